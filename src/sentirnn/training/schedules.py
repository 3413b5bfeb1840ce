"""Learning-rate schedules: ULMFiT's slanted triangular rate (STLR)."""

from __future__ import annotations

import torch


def slanted_triangular(step: int, total: int, cut_frac: float = 0.1,
                       ratio: float = 32.0) -> float:
    """ULMFiT's learning-rate factor at ``step`` of ``total``: 1/ratio → 1 → 1/ratio."""
    cut = max(1, int(total * cut_frac))
    p = step / cut if step < cut else 1 - (step - cut) / max(1, total - cut)
    return (1 + max(p, 0.0) * (ratio - 1)) / ratio


def stlr_scheduler(optimizer, total_steps: int):
    """A per-step LambdaLR with the slanted triangular factor (for ``train_net``)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: slanted_triangular(s, total_steps))
