"""The thread-pool scoring path: same answers as one batch at a time, input order kept,
bounded work in flight, small requests split across workers."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sentirnn.pipeline import parallel_logits, pipelined_logits, split_batch_size


def encode(texts: list[str]) -> list[list[int]]:
    """Whitespace words → their lengths as ids (an empty text → one id, as in prepare)."""
    return [[len(w) for w in t.split()] or [1] for t in texts]


class Network:
    """Logits from ids that depend on each text alone (sum and count of its real ids),
    recording the batches and the most calls ever running at once."""

    def __init__(self):
        self.calls, self.running, self.peak = [], 0, 0
        self.lock = threading.Lock()

    def __call__(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append(len(lengths))
        mask = np.arange(ids.shape[1]) < lengths[:, None]
        out = np.stack([(ids * mask).sum(1), lengths], axis=1).astype(np.float32)
        with self.lock:
            self.running -= 1
        return out


def texts_of_many_lengths(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join("x" * int(rng.integers(1, 9)) for _ in range(int(rng.integers(0, 40))))
            for _ in range(n)]


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("n", [0, 1, 5, 64, 700])
def test_pipelined_logits_equal_one_text_at_a_time_in_input_order(workers, n):
    texts = texts_of_many_lengths(n)
    want = np.array([[sum(s), len(s)] for s in encode(texts)], dtype=np.float32).reshape(n, 2)
    with ThreadPoolExecutor(workers) as pool:
        got = pipelined_logits(texts, encode, Network(), pool, 16, workers, 2)
    np.testing.assert_array_equal(got, want)


def test_pipeline_bounds_the_batches_in_flight_and_uses_every_worker():
    texts = texts_of_many_lengths(2000, seed=1)
    net = Network()
    with ThreadPoolExecutor(2) as pool:
        pipelined_logits(texts, encode, net, pool, 8, 2, 2)
    assert sum(net.calls) == len(texts) and max(net.calls) <= 8
    assert net.peak <= 2


def test_parallel_logits_keep_row_indices_with_their_logits():
    seqs = encode(texts_of_many_lengths(300, seed=2))
    with ThreadPoolExecutor(2) as pool:
        chunks, batches = parallel_logits(seqs, Network(), pool, 32, 2)
    seen = sorted(i for idx in batches for i in idx)
    assert seen == list(range(len(seqs)))
    for idx, logits in zip(batches, chunks):
        assert [int(v) for v in logits[:, 0]] == [sum(seqs[i]) for i in idx]


def test_a_small_request_is_split_across_workers():
    assert split_batch_size(32, 64, 2) == 16
    assert split_batch_size(3, 64, 2) == 2
    assert split_batch_size(1, 64, 2) == 1
    assert split_batch_size(10_000, 64, 2) == 64
    assert split_batch_size(5, 64, 1) == 5
