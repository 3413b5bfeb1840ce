"""texts → labels: the Predictor mixin that runs a fitted model and post-processes its logits.

The estimators and the ONNX predictor share it; the logits → labels step itself is in
``sentirnn.inference.postprocess``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sentirnn.errors import ConfigError, DataError
from sentirnn.inference.calibration import summary
from sentirnn.inference.pipeline import inference_batches, pipelined_logits
from sentirnn.inference.postprocess import decode_labels, softmax, top_k_records
from sentirnn.inference.sentences import pooled_logits, split_many
from sentirnn.metrics import evaluate_labels
from sentirnn.preprocess.batching import pad
from sentirnn.preprocess.encode import check_texts


def restore_order(chunks: list[np.ndarray], batches: list[list[int]], n: int) -> np.ndarray:
    """Put per-batch results (computed in length order) back into input order."""
    out = np.empty((n, chunks[0].shape[1]), dtype=chunks[0].dtype) if chunks else np.empty((0, 0))
    for chunk, idx in zip(chunks, batches):
        out[idx] = chunk
    return out


def check_threads(threads, where: str, name: str = "threads") -> int | None:
    """``threads`` if it is None or a positive int; else a ConfigError naming ``where``."""
    if threads is None or (isinstance(threads, int) and not isinstance(threads, bool)
                           and threads >= 1):
        return threads

    raise ConfigError(f"The {name!r} parameter of {where} must be a positive integer or "
                      f"None. Got {threads!r} instead.")


class Predictor:
    """The predict/classify/evaluate surface shared by every backend (PyTorch, ONNX).

    A backend provides ``classes_``, ``_encode(texts) -> id sequences`` and
    ``_batch_logits(ids (B, T), lengths (B,)) -> (B, C)`` on int64 numpy arrays; this class
    batches, orders and turns those into answers, so that every backend labels, rounds and
    refuses inputs in exactly the same way. A backend whose ``truncation`` is "sentences"
    also provides ``language_`` and ``sentence_pooling`` (see ``_text_logits``).
    """

    # Texts per network call, after sorting by length: 64 matched 256 on short sentences and
    # was faster on long reviews, for PyTorch and onnxruntime alike (less padding in the long
    # tail, a smaller working set; docs/lab-notes.md).
    inference_batch_size = 64
    # Probabilities are softmax(logits / temperature_); 1.0 unless the model was calibrated
    # (``calibrate=True``, see ``sentirnn.inference.calibration``), when ``calibration_`` holds
    # T and its validation ECE. Labels never depend on it.
    temperature_: float = 1.0
    calibration_: dict | None = None
    # Backends whose calls release the GIL (onnxruntime, PyTorch) set these: ``workers_``
    # calls run side by side on ``executor_`` and encoding overlaps them (see
    # ``sentirnn.inference.pipeline``). With no executor, calls run one by one in the caller's
    # thread.
    workers_: int = 1
    executor_ = None
    # What ``set_threads`` was given (None: every core).
    threads_: int | None = None

    def set_threads(self, threads: int | None) -> Predictor:
        """Cores that ``predict``, ``predict_proba``, ``classify`` and ``evaluate`` use.

        Parameters
        ----------
        threads : int or None
            How many single-threaded network calls run side by side (texts are split
            across them and the next texts are encoded meanwhile); None = one per core.
            The scikit-learn baselines score in one thread whatever this says.

        Returns
        -------
        self

        Examples
        --------
        >>> clf = sentirnn.load("models/waimai").set_threads(1)  # doctest: +SKIP
        """
        self.threads_ = check_threads(threads, "set_threads")
        return self

    def _pool(self):
        """(calls side by side, the executor running them or None for the caller's thread)."""
        return self.workers_, self.executor_

    def _probabilities(self, logits: np.ndarray) -> np.ndarray:
        """(n, C) logits → (n, C) probabilities, temperature-scaled."""
        return softmax(logits / self.temperature_ if self.temperature_ != 1.0 else logits)

    def _logits(self, seqs: list[list[int]]) -> np.ndarray:
        """(n,) id sequences → (n, C) logits, batched in length order, returned in input order."""
        return self._batched(seqs, self._batch_logits, len(self.classes_))

    def _batched(self, seqs: list[list[int]], batch_fn, width: int) -> np.ndarray:
        """(n,) id sequences → (n, width) rows of ``batch_fn(ids (B, T), lengths (B,))``,
        batched in length order on the pool, returned in input order."""

        if not seqs:
            return np.zeros((0, width), dtype=np.float32)
        workers, pool = self._pool()
        batches = inference_batches([len(s) for s in seqs], self.inference_batch_size, workers)

        def run(idx: list[int]) -> np.ndarray:
            return batch_fn(*pad([seqs[i] for i in idx]))

        chunks = list(pool.map(run, batches)) if pool is not None else \
            [run(idx) for idx in batches]
        return restore_order(chunks, batches, len(seqs))

    def _text_logits(self, texts: list[str]) -> np.ndarray:
        """(n,) raw texts → (n, C) logits: what predict_proba, evaluate and calibration score.

        With ``truncation="sentences"`` each sentence is scored and a text's "logits" are the
        log of its pooled sentence probabilities (``sentence_pooling``; see
        ``sentirnn.inference.sentences``), so their softmax is the pooled probabilities.
        """
        if getattr(self, "truncation", None) != "sentences":
            if self._pool()[0] > 1:
                return self._text_rows(texts, self._batch_logits, len(self.classes_))
            # One worker: encode first, then score (a baseline scores its own features here).
            return self._logits(self._encode(texts))

        sentences, owner = split_many(texts, self.language_)
        seqs = self._encode(sentences)
        return pooled_logits(self._logits(seqs), owner, len(texts), self.sentence_pooling,
                             [len(s) for s in seqs])

    def _text_rows(self, texts: list[str], batch_fn, width: int) -> np.ndarray:
        """(n,) raw texts → (n, width) rows of ``batch_fn`` in input order, each text whole
        (cut at ``max_len``, never split into sentences); what logits and embeddings share."""
        workers, pool = self._pool()
        if workers > 1:  # encoding the next texts overlaps the network calls

            return pipelined_logits(texts, self._encode, batch_fn, pool,
                                    self.inference_batch_size, workers, width)
        # One worker: encode first, then score, so that one core is busy at a time.
        return self._batched(self._encode(texts), batch_fn, width)

    def _check_fitted(self, method: str) -> None:
        """Backends that can exist unfitted override this."""

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities: array of shape (n_texts, n_classes), columns = ``classes_``.

        Every text gets a row, an empty one too: its row is the model's answer for a lone
        unknown token, close to the training prior and no opinion. ``sentirnn predict``
        leaves such rows unlabelled, the HTTP service and ``explain`` refuse them; filter
        them out here (``[t for t in texts if t.strip()]``) when that matters."""

        texts = check_texts(texts, "predict_proba")
        self._check_fitted("predict_proba")
        return self._probabilities(self._text_logits(texts))

    def decide(self, probabilities: np.ndarray) -> list[str]:
        """(n, C) probabilities → n labels: the most probable class (a multi-label model
        applies its per-class thresholds instead). Files and the HTTP service use this too."""
        return decode_labels(probabilities, self.classes_)

    def predict(self, texts: Sequence[str]) -> list[str]:
        """The most probable label of each text, as a list of str."""
        texts = check_texts(texts, "predict")
        self._check_fitted("predict")  # here, so that the message names the call made
        return self.decide(self.predict_proba(texts))

    def classify(self, texts, top_k: int = 1):
        """``{"label", "score"}`` records: one list per text; a single str gives a single list."""
        single = isinstance(texts, str)
        self._check_fitted("classify")
        records = top_k_records(self.predict_proba([texts] if single else texts),
                                self.classes_, top_k)
        return records[0] if single else records

    def _check_labelled(self, texts, labels) -> tuple[list[str], list[str]]:
        """evaluate's input: texts and labels of equal length, every label known."""

        texts, labels = check_texts(texts, "evaluate"), [str(y) for y in labels]
        self._check_fitted("evaluate")
        if len(texts) != len(labels):
            raise DataError(f"evaluate got {len(texts)} texts but {len(labels)} labels")
        unknown = sorted(set(labels) - set(self.classes_))
        if unknown:
            raise DataError(f"labels {unknown[:5]} are not known to this model "
                            f"(it predicts {self.classes_}); map them with --label-map")
        return texts, labels

    def evaluate(self, texts: Sequence[str], labels: Sequence[str]):
        """Accuracy, per-class and macro/weighted P/R/F1 and the confusion matrix
        (an ``EvaluationReport``)."""

        texts, labels = self._check_labelled(texts, labels)
        logits = self._text_logits(texts)  # (n, C)
        report = evaluate_labels(labels, self.decide(self._probabilities(logits)),
                                 self.classes_)
        if self.calibration_ is not None and labels:  # ECE on these texts, before and after T

            index = {c: i for i, c in enumerate(self.classes_)}
            report.calibration = summary(logits, [index[y] for y in labels], self.temperature_)
        return report
