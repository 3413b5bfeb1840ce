"""The thread-pool scoring path: same answers as one batch at a time, input order kept,
bounded work in flight, small requests split across workers."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from sentirnn.inference.pipeline import inference_batches, pipelined_logits, split_batch_size
from sentirnn.inference.predict import Predictor


def encode(texts: list[str]) -> list[list[int]]:
    """Whitespace words → their lengths as ids (an empty text → one id, as in prepare)."""
    return [[len(w) for w in t.split()] or [1] for t in texts]


class Network:
    """Logits from ids that depend on each text alone (sum and count of its real ids),
    recording the batch sizes and the most calls ever running at once. ``pause`` (seconds)
    releases the GIL inside a call, as onnxruntime does."""

    def __init__(self, pause: float = 0.0):
        self.calls, self.running, self.peak, self.pause = [], 0, 0, pause
        self.lock = threading.Lock()

    def __call__(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        with self.lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
            self.calls.append(len(lengths))
        time.sleep(self.pause)
        mask = np.arange(ids.shape[1]) < lengths[:, None]
        out = np.stack([(ids * mask).sum(1), lengths], axis=1).astype(np.float32)
        with self.lock:
            self.running -= 1
        return out


class CountingPool(ThreadPoolExecutor):
    """A pool that records the most batches submitted and not yet collected by the caller."""

    def __init__(self, workers: int):
        super().__init__(workers)
        self.outstanding = self.most = 0
        self.count_lock = threading.Lock()

    def submit(self, fn, /, *args):
        with self.count_lock:
            self.outstanding += 1
            self.most = max(self.most, self.outstanding)
        future = super().submit(fn, *args)
        result = future.result

        def collected(timeout=None):
            with self.count_lock:
                self.outstanding -= 1
            return result(timeout)

        future.result = collected
        return future


class Backend(Predictor):
    """The smallest Predictor: ``encode`` and ``Network`` as its preprocessing and network."""

    def __init__(self, workers: int, batch_size: int = 16):
        self.classes_, self.net = ["a", "b"], Network()
        self.inference_batch_size, self.workers_ = batch_size, workers
        self.executor_ = ThreadPoolExecutor(workers) if workers > 1 else None

    def _encode(self, texts):
        return encode(texts)

    def _batch_logits(self, ids, lengths):
        return self.net(ids, lengths)


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
    net = Network(pause=0.001)
    with CountingPool(2) as pool:
        pipelined_logits(texts, encode, net, pool, 8, 2, 2)
    assert sum(net.calls) == len(texts) and max(net.calls) <= 8
    assert 2 < pool.most <= 4 * 2  # 250 batches, never more than 8 waiting at once
    assert net.peak == 2  # both workers ran at the same time


def test_predictor_scores_id_sequences_alike_on_one_or_three_workers():
    seqs = encode(texts_of_many_lengths(300, seed=2))
    want = np.array([[sum(s), len(s)] for s in seqs], dtype=np.float32)
    one, three = Backend(1), Backend(3)
    np.testing.assert_array_equal(one._logits(seqs), want)
    np.testing.assert_array_equal(three._logits(seqs), want)
    assert max(three.net.calls) <= 16 and sum(three.net.calls) == len(seqs)
    texts = texts_of_many_lengths(40, seed=3)  # under workers × batch: split across workers
    three.net.calls.clear()
    np.testing.assert_array_equal(three.predict_proba(texts), one.predict_proba(texts))
    assert len(three.net.calls) == 3 and sum(three.net.calls) == 40  # one call per worker


def test_a_small_request_is_split_across_workers():
    assert split_batch_size(32, 64, 2) == 16
    assert split_batch_size(3, 64, 2) == 2
    assert split_batch_size(1, 64, 2) == 1
    assert split_batch_size(10_000, 64, 2) == 64
    assert split_batch_size(5, 64, 1) == 5


def padded_cost(batch: list[int], lengths: list[int]) -> int:
    return len(batch) * max(lengths[i] for i in batch)


@pytest.mark.parametrize("workers", [2, 3])
def test_a_small_request_is_cut_into_batches_of_equal_cost(workers):
    """60 one-token texts and 4 of 50 tokens: equal counts would leave one worker with
    almost all the work; cut by cost, no batch costs more than the fairest cut needs."""
    lengths = [1] * 60 + [50] * 4
    batches = inference_batches(lengths, 64, workers)
    assert sorted(i for b in batches for i in b) == list(range(64))
    assert len(batches) <= workers
    assert all(len(b) <= 64 for b in batches)
    # 2 workers: the 4 long texts alone (200); 3: two of them per batch (100)
    assert max(padded_cost(b, lengths) for b in batches) == {2: 200, 3: 100}[workers]
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, 100).tolist()
    by_cost = max(padded_cost(b, lengths) for b in inference_batches(lengths, 64, workers))
    order = sorted(range(100), key=lambda i: lengths[i])
    size = -(-100 // workers)
    by_count = max(padded_cost(order[i:i + size], lengths) for i in range(0, 100, size))
    assert by_cost < by_count


def test_a_large_request_keeps_full_batches_in_length_order():
    lengths = list(range(300, 0, -1))
    batches = inference_batches(lengths, 64, 2)
    assert [len(b) for b in batches] == [64, 64, 64, 64, 44]
    assert [lengths[i] for i in batches[0]] == list(range(1, 65))
