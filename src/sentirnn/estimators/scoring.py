"""ids → logits in PyTorch: the network calls behind a fitted classifier's predictions.

``NetScorer`` gives ``sentirnn.inference.predict.Predictor`` the two things a backend must
provide — a batch of ids to logits (or to pooled features), and the threads that run those
calls. Each call runs on a single-threaded worker, never in the caller's thread: there it
would use torch's intra-op threads, which collapse on a busy machine (see
``sentirnn.inference.workers``).
"""

from __future__ import annotations

import os
import threading

import numpy as np
import torch

from sentirnn.inference.sentences import SENTENCES, split_many
from sentirnn.inference.workers import single_threaded_pool
from sentirnn.training.allocator import keep_freed_memory

_POOL_LOCK = threading.Lock()


class NetScorer:
    """Runs ``self.net_`` on padded numpy batches, on a pool of single-threaded workers."""

    _pool_pid_: int | None = None  # the process whose threads executor_ holds

    def _batch_logits(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch: ids (B, T), lengths (B,) int64 → (B, C) logits."""
        return self._run_net("forward", ids, lengths)

    def _batch_features(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch → (B, P) pooled encoder states (the head's input)."""
        return self._run_net("features", ids, lengths)

    def _features(self, texts: list[str]) -> np.ndarray:
        """(n,) raw texts → (n, P) pooled encoder states; with ``truncation="sentences"``
        the mean of each text's sentences' (what ``embed`` returns)."""
        width = self.net_.feature_size
        if self.truncation != SENTENCES:
            return self._text_rows(texts, self._batch_features, width)
        sentences, owner = split_many(texts, self.language_)
        rows = self._batched(self._encode(sentences), self._batch_features, width)  # (S, P)
        total = np.zeros((len(texts), width), dtype=np.float64)
        np.add.at(total, owner, rows)  # every text has at least one sentence
        return (total / np.bincount(owner, minlength=len(texts))[:, None]).astype(np.float32)

    def _run_net(self, method: str, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        keep_freed_memory()  # once per process (bench_allocator measures it)
        net = self.net_.eval()
        with torch.inference_mode():
            out = getattr(net, method)(torch.from_numpy(ids), torch.from_numpy(lengths))
            return out.float().numpy()

    def _restart_pool(self) -> None:
        with _POOL_LOCK:
            self._start_pool(self.threads_ or os.cpu_count() or 1)

    def _pool(self):
        """(workers, executor); the pool starts on first use unless set_threads ran."""
        workers, pool = self.workers_, self.executor_
        # A forked child inherits the pool but not its threads: it would wait forever.
        if pool is None or self._pool_pid_ != os.getpid():
            with _POOL_LOCK:  # a server's request threads may all arrive at once
                if self.executor_ is None or self._pool_pid_ != os.getpid():
                    self._start_pool(self.threads_ or os.cpu_count() or 1)
                workers, pool = self.workers_, self.executor_
        return workers, pool

    def _start_pool(self, workers: int) -> None:
        old = self.executor_ if self._pool_pid_ == os.getpid() else None
        self.executor_, self.workers_ = single_threaded_pool(workers), workers
        self._pool_pid_ = os.getpid()
        if old is not None:
            old.shutdown(wait=False)  # calls already queued on it still finish

    def __getstate__(self) -> dict:
        # A thread pool cannot be copied or pickled; a copy starts its own on first use.
        state = dict(self.__dict__)
        for name in ("executor_", "workers_", "_pool_pid_"):
            state.pop(name, None)
        return state
