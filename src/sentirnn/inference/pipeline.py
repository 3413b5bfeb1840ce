"""texts → ids → batches → logits on a thread pool, encoding overlapping inference.

onnxruntime and PyTorch release the GIL while they run a batch, so on a machine with N
cores N single-threaded calls side by side keep every core busy, and the Python that cleans
and tokenizes the next texts (which holds the GIL) runs meanwhile instead of before
(docs/lab-notes.md, "Inference on a thread pool").

In fp32 the scores do not depend on how texts are grouped: every network here is
padding-invariant, so the order of work (by character length, then by token length inside a
chunk) only decides how little padding is computed. The int8 model quantises each batch's
inputs with that batch's own range, so its probabilities move slightly (≤ 0.02 in the tests)
with the company a text keeps — as they did before this pipeline, with any batching.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor

import numpy as np

from sentirnn.preprocess.batching import pad

Encode = Callable[[list[str]], list[list[int]]]
BatchLogits = Callable[[np.ndarray, np.ndarray], np.ndarray]


def split_batch_size(n: int, batch_size: int, workers: int) -> int:
    """Texts per call so that a small request still uses every worker (32 texts on 2 workers
    → 2 calls of 16), and a large one uses ``batch_size``."""
    return max(1, min(batch_size, math.ceil(n / max(1, workers))))


def inference_batches(lengths: list[int], batch_size: int, workers: int) -> list[list[int]]:
    """Index batches in length order: ``batch_size`` texts each, except that a request of at
    most ``workers × batch_size`` texts becomes one batch per worker, cut so that the
    batches cost about the same (texts × longest length: what a padded batch computes).
    """
    # Cut into equal counts, the batch of the longest texts is the one the other workers
    # wait for (measured: docs/lab-notes.md, "Figures moved out of the docstrings").
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    if len(order) > batch_size * workers or workers < 2:
        return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]

    def cut(cost: int) -> list[list[int]]:
        """From the longest down, batches of at most ``cost`` (and ``batch_size`` texts)."""
        batches, end = [], len(order)
        while end > 0:
            take = max(1, min(end, batch_size, cost // max(1, lengths[order[end - 1]])))
            batches.append(order[end - take:end])
            end -= take
        return batches[::-1]

    low, high = 1, len(order) * max(1, max(lengths, default=1))
    while low < high:  # the least cost per batch that needs no more batches than workers
        middle = (low + high) // 2
        low, high = (low, middle) if len(cut(middle)) <= workers else (middle + 1, high)
    return cut(low)


def pipelined_logits(texts: list[str], encode: Encode, batch_logits: BatchLogits,
                     pool: Executor, batch_size: int, workers: int,
                     n_classes: int) -> np.ndarray:
    """raw texts → (n, C) logits in input order; chunk k+1 is encoded while chunk k runs.

    Texts are taken in order of character length (a cheap stand-in for token length, known
    before tokenizing), so chunks hold texts of similar length, and each chunk is sorted by
    its real token lengths into batches. At most ``4 × workers`` batches wait in the pool,
    which bounds the memory held in padded batches whatever the number of texts.
    """
    n = len(texts)
    out = np.empty((n, n_classes), dtype=np.float32)
    if not n:
        return out
    size = split_batch_size(n, batch_size, workers)
    chunk = size * workers * 2
    order = sorted(range(n), key=lambda i: len(texts[i]))
    pending: deque = deque()
    for start in range(0, n, chunk):
        rows = order[start:start + chunk]
        seqs = encode([texts[i] for i in rows])
        for idx in inference_batches([len(s) for s in seqs], batch_size, workers):
            while len(pending) >= 4 * workers:
                _collect(out, *pending.popleft())
            pending.append(([rows[i] for i in idx],
                            pool.submit(batch_logits, *pad([seqs[i] for i in idx]))))
    while pending:
        _collect(out, *pending.popleft())
    return out


def _collect(out: np.ndarray, rows: list[int], future) -> None:
    out[rows] = future.result()
