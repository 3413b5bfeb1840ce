"""Where this process runs: its rank and the world size under torchrun."""

from __future__ import annotations

import os


def world() -> tuple[int, int]:
    """(rank, world_size) from torchrun's environment; (0, 1) when run plainly."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
