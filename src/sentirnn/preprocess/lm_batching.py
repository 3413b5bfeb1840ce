"""ids → BPTT batches: a language model's token stream, cut into (B, T) windows.

Documents are shuffled (seeded, per epoch), joined with ``<eos>`` into one stream and laid
out as ``batch_size`` parallel rows, so row b of window k+1 continues row b of window k and
the hidden state can be carried from one window to the next (truncated BPTT). Window
lengths vary as in ULMFiT — bptt with p = 0.95, else bptt/2, plus N(0, 5) noise — so the
model does not always see the same cut points. Everything about an epoch (order, window
lengths) is a function of (seed, epoch), which is what makes a run exactly resumable
from (epoch, step). Under DDP each rank gets its own contiguous slice of the stream.
"""

from __future__ import annotations

import numpy as np
import torch

from sentirnn.errors import DataError


def stream(docs: list[np.ndarray], eos: int, order: np.ndarray | None = None) -> np.ndarray:
    """Documents (id arrays) → one int64 stream, each document followed by ``eos``."""
    order = np.arange(len(docs)) if order is None else order
    parts = []
    end = np.array([eos], dtype=np.int64)
    for i in order:
        parts += [docs[i], end]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def batchify(tokens: np.ndarray, batch_size: int, rank: int = 0,
             world_size: int = 1) -> np.ndarray:
    """Stream → (B, L) rows of this rank's slice; the remainder is dropped."""
    share = len(tokens) // world_size
    part = tokens[rank * share:(rank + 1) * share]
    steps = len(part) // batch_size
    return part[:steps * batch_size].reshape(batch_size, steps)


def window_lengths(steps: int, bptt: int, count: int, rng: np.random.Generator) -> list[int]:
    """``count`` ULMFiT-style window lengths that fit in ``steps - 1`` positions."""
    base = np.where(rng.random(count) < 0.95, bptt, bptt / 2)
    lengths = np.maximum(5, np.round(rng.normal(base, 5))).astype(np.int64)
    room = steps - 1
    if lengths.sum() > room:  # rare for long streams; shrink all windows to fit
        lengths = np.maximum(1, np.floor(lengths * room / lengths.sum())).astype(np.int64)
        while lengths.sum() > room:
            lengths[np.argmax(lengths)] -= 1
    return lengths.tolist()


class BPTTBatches(torch.utils.data.IterableDataset):
    """(inputs, targets) windows of shape (B, T), the epoch's documents in seeded order.

    Parameters
    ----------
    docs : list of int64 arrays, one per document.
    batch_size, bptt : rows and mean window length.
    eos : id of the end-of-document token.
    seed : order and window lengths of epoch e come from (seed, e).
    rank, world_size : this process's share of the stream under DDP.
    variable : vary the window length (training) or use exactly ``bptt`` (evaluation).

    Attributes
    ----------
    epoch : the epoch the next ``iter`` yields; ``skip`` windows are skipped once (resume).
    """

    def __init__(self, docs: list[np.ndarray], batch_size: int, bptt: int, eos: int,
                 seed: int = 0, rank: int = 0, world_size: int = 1, variable: bool = True):
        super().__init__()
        self.docs, self.batch_size, self.bptt, self.eos = docs, batch_size, bptt, eos
        self.seed, self.rank, self.world_size, self.variable = seed, rank, world_size, variable
        self.epoch, self.skip = 0, 0
        total = sum(len(d) + 1 for d in docs)
        self.steps = total // world_size // batch_size
        if self.steps < 2:
            raise DataError(f"the text has {total} tokens, too few for {world_size} × "
                            f"{batch_size} parallel rows; use a smaller batch_size or more text")
        self.windows = max(1, (self.steps - 1) // bptt)

    def __len__(self) -> int:
        return self.windows

    def epoch_windows(self, epoch: int) -> tuple[np.ndarray, list[int]]:
        """(B, L) rows and the window lengths of one epoch."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.docs)) if self.variable else None
        rows = batchify(stream(self.docs, self.eos, order), self.batch_size, self.rank,
                        self.world_size)
        if not self.variable:  # evaluation: fixed windows covering every position
            full, rest = divmod(rows.shape[1] - 1, self.bptt)
            return rows, [self.bptt] * full + ([rest] if rest else [])
        return rows, window_lengths(rows.shape[1], self.bptt, self.windows, rng)

    def __iter__(self):
        rows, lengths = self.epoch_windows(self.epoch)
        skip, self.skip = self.skip, 0
        self.epoch += 1
        data = torch.from_numpy(rows)
        start = int(sum(lengths[:skip]))
        for n in lengths[skip:]:
            yield data[:, start:start + n], data[:, start + 1:start + 1 + n]  # (B, T) each
            start += n
