"""exported ONNX files → labels: ``OnnxClassifier``, the same predict API without torch.

It serves a model directory that ``export_onnx`` (``sentirnn export``) has run on, after
checking every file it reads against ``export.json`` and ``config.json``. Texts become ids
through the model's own ``TextPipeline`` (read from the directory, as ``load`` reads it for
PyTorch), and the pipeline and ``predict`` stages are torch-free, so torch is never imported.

``ExportedClassifier`` is that front end; a runtime adds only its sessions:
``OnnxClassifier`` here (onnxruntime), ``OpenVinoClassifier`` in ``openvino_predictor``.
"""

from __future__ import annotations

import hashlib
import os
import queue
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from sentirnn import artifacts
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.inference.calibration import temperature_from_config
from sentirnn.inference.predict import Predictor, check_threads
from sentirnn.preprocess.pipeline import TOKENIZER_FILE, TextPipeline

FORMAT = "sentirnn.classifier"
EXPORT_FORMAT = "sentirnn.onnx_export"
ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"


def _require_onnxruntime():
    try:
        import onnxruntime  # optional: the 'export' extra
    except ImportError:
        raise ImportError("the ONNX predictor needs onnxruntime: pip install onnxruntime"
                          ) from None
    return onnxruntime


def onnx_session(model, num_threads: int = 1):
    """An onnxruntime CPU session on a path or serialized bytes (single-threaded calls by
    default: parallelism comes from calls side by side, see ``sentirnn.inference.pipeline``)."""
    ort = _require_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.log_severity_level = 3  # onnxruntime's own warnings are not the user's problem
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])


def read_export(model_dir) -> dict:
    """The validated ``export.json`` of a model directory."""
    model_dir = Path(model_dir)
    path = model_dir / EXPORT_FILE
    if not path.exists():
        raise ArtifactError(f"{model_dir} has no exported ONNX model ({EXPORT_FILE} is missing); "
                            f"run 'sentirnn export {model_dir}' first")
    record = artifacts.read_json_file(model_dir, EXPORT_FILE)
    if not isinstance(record, dict) or record.get("format") != EXPORT_FORMAT \
            or not isinstance(record.get("files"), dict):
        raise ArtifactError(f"{path} is not a sentirnn export record; "
                            f"re-run 'sentirnn export {model_dir}'")
    return record


class ExportedClassifier(Predictor):
    """The runtime-independent part of a classifier served from exported ONNX files.

    It holds the model's text pipeline, labels, truncation and calibration, and a pool of
    sessions: objects with onnxruntime's ``run(output_names, feeds)``, one per worker.
    A runtime subclass provides ``runtime`` (its name in messages) and ``_sessions``
    (the exported file → that many sessions); everything else is shared.
    """

    runtime = "onnxruntime"

    def __init__(self, sessions, classes: Sequence[str], pipeline: TextPipeline,
                 max_len: int, truncation: str, precision: str = "fp32",
                 batch_size: int = Predictor.inference_batch_size, language: str | None = None,
                 sentence_pooling: str = "mean"):
        # One session per worker, so len(sessions) calls run side by side: two calls on
        # two sessions scale better than on one shared session (docs/lab-notes.md).
        # Whoever calls takes a free session and gives it back, so any number of threads
        # (a server's request threads included) is safe; they wait when all are busy.
        sessions = list(sessions) if isinstance(sessions, (list, tuple)) else [sessions]
        self.sessions_ = sessions
        self.classes_ = list(classes)
        self.pipeline_ = pipeline  # the classifier's text path: clean → tokenize → ids
        self.max_len = max_len
        self.truncation = truncation
        self.precision_ = precision
        self.inference_batch_size = batch_size
        # truncation="sentences": split in this language, pool as PyTorch does (numpy only)
        self.language_ = language
        self.sentence_pooling = sentence_pooling
        self._use_sessions(len(sessions))

    def _use_sessions(self, n: int) -> None:
        """Score with the first n sessions, n calls side by side (sentirnn.inference.pipeline)."""
        self.idle_sessions_ = queue.SimpleQueue()
        for session in self.sessions_[:n]:
            self.idle_sessions_.put(session)
        old, self.workers_, self.executor_ = self.executor_, n, None
        if n > 1:
            self.executor_ = ThreadPoolExecutor(n, thread_name_prefix="sentirnn-onnx")
        if old is not None:
            old.shutdown(wait=False)

    def set_threads(self, threads: int | None) -> ExportedClassifier:
        """See :meth:`Predictor.set_threads`. Each thread needs a session of its own, made
        at load: up to as many as were loaded (``load(..., num_threads=N)``); None = all of
        them. Not while another thread is predicting with this classifier."""
        super().set_threads(threads)
        n = self.threads_ or len(self.sessions_)
        if n > len(self.sessions_):
            name = type(self).__name__
            raise ConfigError(f"this {name} was loaded with {len(self.sessions_)} "
                              f"{self.runtime} session(s), too few for {n} threads; load it "
                              f"with {name}.load(..., num_threads={n})")
        self._use_sessions(n)
        return self

    @classmethod
    def _sessions(cls, model: bytes, workers: int, precision: str) -> list:
        raise NotImplementedError

    @classmethod
    def _read(cls, model_dir, name: str, precision: str, num_threads: int | None,
              batch_size: int) -> ExportedClassifier:
        """A model directory's exported ``name``, checked, with ``num_threads`` sessions
        (None: one per core) made by the runtime's ``_sessions``."""
        check_threads(num_threads, f"{cls.__name__}.load", "num_threads")
        model_dir = Path(model_dir)
        config = artifacts.read_config(model_dir, FORMAT)
        model = read_onnx(model_dir, config, name)
        verify_onnx(model_dir, config, TOKENIZER_FILE)
        try:
            params = config["params"]
            pipeline = TextPipeline.read(model_dir, config)
            max_len, truncation = int(params["max_len"]), str(params["truncation"])
            pooling = str(params.get("sentence_pooling", "mean"))  # older models: none
            classes = list(config["labels"])
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{model_dir}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        workers = max(1, num_threads or os.cpu_count() or 1)
        clf = cls(cls._sessions(model, workers, precision), classes, pipeline, max_len,
                  truncation, precision, batch_size, language=config.get("language"),
                  sentence_pooling=pooling)
        if config.get("calibration"):  # the same temperature as torch, so backends agree
            clf.temperature_ = temperature_from_config(config, model_dir)
            clf.calibration_ = dict(config["calibration"])
        return clf

    text_config_ = property(lambda self: self.pipeline_.text, doc="The cleaning settings.")
    tokenizer_ = property(lambda self: self.pipeline_.tokenizer, doc="The tokenizer.")
    vocab_ = property(lambda self: self.pipeline_.vocab, doc="The vocabulary.")

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """raw texts → truncated id sequences, as the PyTorch classifier encodes them."""
        return self.pipeline_.encode(texts, self.max_len, self.truncation)

    def _batch_logits(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch → (B, C) logits from a free session."""
        session = self.idle_sessions_.get()
        try:
            return session.run(["logits"], {"ids": ids, "lengths": lengths})[0]
        finally:
            self.idle_sessions_.put(session)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(classes={self.classes_}, "
                f"precision={self.precision_!r})")


class OnnxClassifier(ExportedClassifier):
    """A sentiment classifier served by onnxruntime: same predict API, no torch.

    Build one with :meth:`OnnxClassifier.load` on a model directory that
    ``sentirnn export`` (or :func:`export_onnx`) has run on.

    Attributes
    ----------
    classes_ : list of str
        The label names, in the column order of ``predict_proba``.
    precision_ : {"fp32", "int8"}
        Which exported file is in use.

    Examples
    --------
    >>> clf = OnnxClassifier.load("models/waimai", int8=True)  # doctest: +SKIP
    >>> clf.predict(["送餐太慢了"])  # doctest: +SKIP
    ['negative']
    """

    runtime = "onnxruntime"

    @classmethod
    def load(cls, model_dir, int8: bool = False, num_threads: int | None = None,
             batch_size: int = Predictor.inference_batch_size) -> OnnxClassifier:
        """Load an exported model directory (checksums verified; torch never imported).

        Parameters
        ----------
        model_dir : path of a model directory with ``model.onnx`` and ``export.json``.
        int8 : use ``model.int8.onnx`` (written by ``sentirnn export DIR --int8``).
        num_threads : cores to use; None = all. Each onnxruntime call is single-threaded and
            up to ``num_threads`` calls run side by side, each on a session of its own
            (faster than one multi-threaded call on these small recurrent matrices; see
            ``sentirnn.inference.pipeline``). Each session holds its own copy of the weights.
        batch_size : texts per onnxruntime call (batches are sorted by length).
        """
        return cls._read(model_dir, INT8_FILE if int8 else ONNX_FILE,
                         "int8" if int8 else "fp32", num_threads, batch_size)

    @classmethod
    def _sessions(cls, model: bytes, workers: int, precision: str) -> list:
        # onnx_session is looked up here, at call time, so that tests can count its calls
        return [onnx_session(model) for _ in range(workers)]


def verify_onnx(model_dir: Path, config: dict, name: str) -> None:
    """Check one file against config.json's checksum (the weights are not needed here)."""
    digest = (config.get("checksums") or {}).get(name)
    path = model_dir / name
    if digest is None or not path.exists():
        raise ArtifactError(f"{model_dir} is incomplete: {name} is missing or has no checksum "
                            "in config.json; restore the model directory")
    if artifacts.sha256(path) != digest:
        raise ArtifactError(f"{path} does not match the checksum in config.json: the file was "
                            "truncated or modified; restore the model directory")


def read_onnx(model_dir: Path, config: dict, name: str) -> bytes:
    """The bytes of an exported file, checked against export.json (and export.json against
    the weights it was exported from)."""
    flag = " --int8" if name == INT8_FILE else ""
    record = read_export(model_dir)
    entry = record["files"].get(name)
    path = model_dir / name
    if entry is None or not path.exists():
        raise ArtifactError(f"{model_dir} has no {name}; run 'sentirnn export {model_dir}{flag}' "
                            "first")
    weights = (config.get("checksums") or {}).get(artifacts.WEIGHTS)
    if record.get("weights_sha256") != weights:
        raise ArtifactError(f"{path} was exported from other weights than this directory's "
                            f"{artifacts.WEIGHTS}; re-run 'sentirnn export {model_dir}{flag}'")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != entry.get("sha256"):
        raise ArtifactError(f"{path} does not match the checksum in {EXPORT_FILE}: the file was "
                            f"truncated or modified; re-run 'sentirnn export {model_dir}{flag}'")
    return data
