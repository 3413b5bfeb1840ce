"""model → ONNX: export and the onnxruntime predictor.

``export_onnx`` writes the model's ``ClassifierNet`` (tensors in, tensors out) as
``model.onnx`` — and optionally a dynamically quantised ``model.int8.onnx`` — next to the
weights, checks the result against PyTorch on a padded batch before it replaces anything,
and records the files and their SHA-256 in ``export.json``. ``OnnxClassifier`` serves such
a directory with the same predict API as ``SentimentClassifier`` but without importing
torch: preprocessing comes from the torch-free ``encode``/``batching``/``predict`` stages.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import uuid
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sentirnn import __version__, artifacts
from sentirnn.config import TextConfig
from sentirnn.errors import ArtifactError, ConfigError
from sentirnn.inference.calibration import temperature_from_config
from sentirnn.inference.postprocess import softmax
from sentirnn.inference.predict import Predictor, check_threads
from sentirnn.preprocess.batching import pad
from sentirnn.preprocess.encode import encode_texts
from sentirnn.preprocess.tokenize import Tokenizer
from sentirnn.preprocess.vocab import Vocab

FORMAT = "sentirnn.classifier"
EXPORT_FORMAT = "sentirnn.onnx_export"
ONNX_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
EXPORT_FILE = "export.json"
PARITY_ATOL = 1e-4  # on probabilities; fp32 ONNX vs eager agree to ~1e-7 in practice
# Dynamic int8 quantisation covers the LSTM cells (DynamicQuantizeLSTM), the embedding
# table (Gather) and any MatMul. onnxruntime has no quantised GRU or RNN kernel, so those
# cells stay fp32; the head is a Gemm, which dynamic quantisation does not cover either.
# Measured on a default-size BiLSTM (SST-2, 1 thread, AVX-512 VNNI CPU): every variant
# tried (per-tensor/per-channel, reduce_range, u8/s8 weights, shape pre-processing, with
# or without Gather) ran 1.75–1.9× faster than fp32, within noise of each other. Quantising
# Gather makes the file 4× smaller instead of 1.2× at no cost; per-channel weights agreed
# with fp32 on every SST-2 dev sentence, where per-tensor ones flipped one of 872.
QUANTIZED_OPS = ("MatMul", "LSTM", "Gather")
PER_CHANNEL = True


def _require_onnx():
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise ImportError("ONNX export needs onnx and onnxruntime: "
                          "pip install 'sentirnn[export]' (or pip install onnx onnxruntime)"
                          ) from None
    return onnx, onnxruntime


def _require_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("the ONNX predictor needs onnxruntime: pip install onnxruntime"
                          ) from None
    return onnxruntime


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _session(model, num_threads: int = 1):
    """An onnxruntime CPU session on a path or serialized bytes (single-threaded calls by
    default: parallelism comes from calls side by side, see ``sentirnn.inference.pipeline``)."""
    ort = _require_onnxruntime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = num_threads
    options.log_severity_level = 3  # onnxruntime's own warnings are not the user's problem
    return ort.InferenceSession(model if isinstance(model, bytes) else str(model), options,
                                providers=["CPUExecutionProvider"])


# ---- export ------------------------------------------------------------------------------
def export_onnx(model_dir, *, int8: bool = False, opset: int = 17) -> list[Path]:
    """Export a model directory's network to ONNX (and optionally int8), checked against torch.

    Parameters
    ----------
    model_dir : path of a directory written by ``SentimentClassifier.save``.
    int8 : also write ``model.int8.onnx``, dynamically quantised to int8 weights (about 4×
        smaller; faster on CPU for LSTM cells).
    opset : ONNX opset version.

    Returns
    -------
    list of Path
        The files written: ``model.onnx``, ``model.int8.onnx`` when ``int8``, ``export.json``.

    Raises
    ------
    ArtifactError
        If the exported model's probabilities differ from PyTorch's by more than 1e-4
        on a padded batch; nothing is replaced then.

    Examples
    --------
    >>> export_onnx("models/waimai", int8=True)  # doctest: +SKIP
    [PosixPath('models/waimai/model.onnx'), PosixPath('models/waimai/model.int8.onnx'), ...]
    """
    _require_onnx()
    # torch comes with the estimator: imported here so OnnxClassifier alone never loads it
    from sentirnn.estimators.classifier import SentimentClassifier

    model_dir = Path(model_dir)
    config = artifacts.read_config(model_dir, FORMAT)
    clf = SentimentClassifier.load(model_dir)
    net = clf.net_.eval()
    ids, lengths = parity_batch(len(clf.vocab_), clf.max_len)
    expected = _torch_probabilities(net, ids, lengths)
    tmp = {name: model_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}"
           for name in (ONNX_FILE, INT8_FILE)}
    try:
        _export_net(net, tmp[ONNX_FILE], opset)
        files = {ONNX_FILE: _check(tmp[ONNX_FILE], ids, lengths, expected, "fp32")}
        worst = files[ONNX_FILE]["max_abs_diff"]
        if worst > PARITY_ATOL:
            raise ArtifactError(
                f"the exported ONNX model differs from PyTorch by {worst:.2e} in probability "
                f"(limit {PARITY_ATOL:g}); nothing was written — report this with the model's "
                "config.json")
        if int8:
            _quantize(tmp[ONNX_FILE], tmp[INT8_FILE])
            files[INT8_FILE] = _check(tmp[INT8_FILE], ids, lengths, expected, "int8")
        written = []
        for name in files:
            os.replace(tmp[name], model_dir / name)
            written.append(model_dir / name)
        if not int8 and (model_dir / INT8_FILE).exists():
            # An int8 file from an earlier export would no longer match model.onnx.
            (model_dir / INT8_FILE).unlink()
        written.append(_write_export_json(model_dir, files, opset, config))
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return written


def parity_batch(vocab_size: int, max_len: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded padded batch of random ids with very different lengths (1 … ≤ 256 tokens)."""
    rng = np.random.default_rng(seed)
    cap = max(1, min(max_len, 256)) if max_len > 0 else 256
    lengths = sorted({min(n, cap) for n in (1, 2, 3, 5, 9, 17, 40, 100, 256)}, reverse=True)
    seqs = [rng.integers(min(2, vocab_size - 1), vocab_size, size=n).tolist() for n in lengths]
    return pad(seqs)


def _torch_probabilities(net, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        logits = net(torch.from_numpy(ids), torch.from_numpy(lengths))
    return softmax(logits.float().numpy())


def _export_net(net, path: Path, opset: int) -> None:
    import torch

    # Two texts of different lengths, so nothing specialises on one shape while tracing.
    ids = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 0, 0, 0]], dtype=torch.long)
    lengths = torch.tensor([5, 2], dtype=torch.long)
    with warnings.catch_warnings(), torch.inference_mode():
        # The legacy (TorchScript) exporter is chosen on purpose: it handles nn.LSTM/GRU
        # with dynamic batch and length. Its warning about LSTM batch sizes concerns
        # explicit initial states, which this network never passes; the tracer warnings
        # come from nn.RNN's own input-size assertions. The parity check after export, on
        # other batch sizes and lengths, is what shows the graph is general.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # The bigram lookup's ids[:, 1:] is a Slice the exporter cannot fold; it stays a node.
        warnings.filterwarnings("ignore", message="Constant folding - Only steps=1")
        torch.onnx.export(
            _exportable(net), (ids, lengths), str(path), input_names=["ids", "lengths"],
            output_names=["logits"], opset_version=opset, dynamo=False,
            dynamic_axes={"ids": {0: "batch", 1: "length"}, "lengths": {0: "batch"},
                          "logits": {0: "batch"}})


def _exportable(net):
    """The network with each recurrent layer as one ONNX op that reads ``lengths``
    (see ``onnx_recurrent``); networks without an RNNEncoder export as they are."""
    # torch modules: imported here so OnnxClassifier alone never loads torch
    from sentirnn.export.onnx_recurrent import ExportNet
    from sentirnn.models.rnn import RNNEncoder

    return ExportNet(net).eval() if isinstance(getattr(net, "encoder", None), RNNEncoder) \
        else net


def _quantize(source: Path, target: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # quantize_dynamic logs on the root logger: a hint to run shape pre-processing first
    # (measured: no gain on these recurrent graphs) and, per tensor it leaves in float, an
    # INFO line. Neither is actionable for a user, so both are muted.
    root = logging.getLogger()
    root.addFilter(_not_from_onnxruntime)
    try:
        quantize_dynamic(str(source), str(target), op_types_to_quantize=list(QUANTIZED_OPS),
                         weight_type=QuantType.QInt8, per_channel=PER_CHANNEL)
    finally:
        root.removeFilter(_not_from_onnxruntime)


def _not_from_onnxruntime(record) -> bool:
    return f"onnxruntime{os.sep}quantization" not in record.pathname


def _check(path: Path, ids: np.ndarray, lengths: np.ndarray, expected: np.ndarray,
           precision: str) -> dict:
    """Run an exported file on the padded batch and one single text; compare with torch."""
    session = _session(path)
    batch = softmax(session.run(["logits"], {"ids": ids, "lengths": lengths})[0])
    # A batch of one (a shorter, unpadded length) catches shapes frozen during tracing.
    n = int(lengths[-1])
    single = softmax(session.run(["logits"], {"ids": ids[-1:, :n], "lengths": lengths[-1:]})[0])
    got = np.concatenate([batch, single])
    want = np.concatenate([expected, expected[-1:]])
    if got.shape != want.shape or not np.isfinite(got).all():
        raise ArtifactError(f"the exported {precision} ONNX model returns {got.shape} values "
                            f"(finite: {bool(np.isfinite(got).all())}) where {want.shape} were "
                            "expected; nothing was written")
    data = path.read_bytes()
    return {"sha256": _sha256_bytes(data), "bytes": len(data), "precision": precision,
            "max_abs_diff": float(np.abs(got - want).max()),
            "label_agreement": float((got.argmax(1) == want.argmax(1)).mean()),
            **({"quantized_ops": list(QUANTIZED_OPS), "per_channel": PER_CHANNEL}
               if precision == "int8" else {})}


def _write_export_json(model_dir: Path, files: dict, opset: int, config: dict) -> Path:
    import onnxruntime
    import torch

    record = {
        "format": EXPORT_FORMAT, "format_version": 1, "sentirnn_version": __version__,
        "torch_version": torch.__version__, "onnxruntime_version": onnxruntime.__version__,
        "opset": opset, "parity_atol": PARITY_ATOL,
        # Ties the ONNX files to the weights they came from (config.json's checksum).
        "weights_sha256": (config.get("checksums") or {}).get(artifacts.WEIGHTS),
        "inputs": {"ids": "int64 (batch, length)", "lengths": "int64 (batch,)"},
        "outputs": {"logits": "float32 (batch, classes)"},
        "files": files,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = model_dir / EXPORT_FILE
    tmp = model_dir / f".{EXPORT_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(record, indent=2), encoding="utf-8")
    os.replace(tmp, path)
    return path


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


# ---- predict -----------------------------------------------------------------------------
class OnnxClassifier(Predictor):
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

    def __init__(self, sessions, classes: Sequence[str], text_config: TextConfig, tokenizer,
                 vocab, max_len: int, truncation: str, precision: str = "fp32",
                 batch_size: int = Predictor.inference_batch_size, language: str | None = None,
                 sentence_pooling: str = "mean"):
        # One session per worker, so len(sessions) calls run side by side: on one shared
        # session two calls ran 1.70× one call's rate on 2 cores, on two sessions 1.91×
        # (2026-12-01, int8 BiLSTM, batches of 64 × 21 tokens; why the shared one scales
        # worse was not looked into).
        # Whoever calls takes a free session and gives it back, so any number of threads
        # (a server's request threads included) is safe; they wait when all are busy.
        sessions = list(sessions) if isinstance(sessions, (list, tuple)) else [sessions]
        self.sessions_ = sessions
        self.classes_ = list(classes)
        self.text_config_ = text_config
        self.tokenizer_ = tokenizer
        self.vocab_ = vocab
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
            from concurrent.futures import ThreadPoolExecutor

            self.executor_ = ThreadPoolExecutor(n, thread_name_prefix="sentirnn-onnx")
        if old is not None:
            old.shutdown(wait=False)

    def set_threads(self, threads: int | None) -> OnnxClassifier:
        """See :meth:`Predictor.set_threads`. Each thread needs an onnxruntime session of its
        own, made at load: up to as many as were loaded (``load(..., num_threads=N)``);
        None = all of them. Not while another thread is predicting with this classifier."""
        super().set_threads(threads)
        n = self.threads_ or len(self.sessions_)
        if n > len(self.sessions_):
            raise ConfigError(f"this OnnxClassifier was loaded with {len(self.sessions_)} "
                              f"onnxruntime session(s), too few for {n} threads; load it with "
                              f"OnnxClassifier.load(..., num_threads={n})")
        self._use_sessions(n)
        return self

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
        check_threads(num_threads, "OnnxClassifier.load", "num_threads")
        model_dir = Path(model_dir)
        config = artifacts.read_config(model_dir, FORMAT)
        model = _read_onnx(model_dir, config, INT8_FILE if int8 else ONNX_FILE)
        _verify(model_dir, config, "tokenizer.json")
        try:
            params = config["params"]
            text_config = TextConfig.from_dict(config["text"], f"{model_dir}/config.json text")
            tok = artifacts.read_json_file(model_dir, "tokenizer.json")
            tokenizer = Tokenizer.from_dict(tok["tokenizer"])
            vocab = Vocab.from_dict(tok["vocab"])
            max_len, truncation = int(params["max_len"]), str(params["truncation"])
            pooling = str(params.get("sentence_pooling", "mean"))  # older models: none
            classes = list(config["labels"])
        except (KeyError, TypeError, ValueError) as e:
            raise ArtifactError(f"{model_dir}/config.json is incomplete or invalid ({e!r}); "
                                "the directory was not written by this sentirnn") from None
        workers = max(1, num_threads or os.cpu_count() or 1)
        onnx = cls([_session(model) for _ in range(workers)], classes, text_config, tokenizer,
                   vocab, max_len, truncation, "int8" if int8 else "fp32", batch_size,
                   language=config.get("language"), sentence_pooling=pooling)
        if config.get("calibration"):  # the same temperature as torch, so backends agree
            onnx.temperature_ = temperature_from_config(config, model_dir)
            onnx.calibration_ = dict(config["calibration"])
        return onnx

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode_texts(texts, self.text_config_, self.tokenizer_, self.vocab_,
                            self.max_len, self.truncation)

    def _batch_logits(self, ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """One padded batch → (B, C) logits from onnxruntime."""
        session = self.idle_sessions_.get()
        try:
            return session.run(["logits"], {"ids": ids, "lengths": lengths})[0]
        finally:
            self.idle_sessions_.put(session)

    def __repr__(self) -> str:
        return f"OnnxClassifier(classes={self.classes_}, precision={self.precision_!r})"


def _verify(model_dir: Path, config: dict, name: str) -> None:
    """Check one file against config.json's checksum (the weights are not needed here)."""
    digest = (config.get("checksums") or {}).get(name)
    path = model_dir / name
    if digest is None or not path.exists():
        raise ArtifactError(f"{model_dir} is incomplete: {name} is missing or has no checksum "
                            "in config.json; restore the model directory")
    if artifacts.sha256(path) != digest:
        raise ArtifactError(f"{path} does not match the checksum in config.json: the file was "
                            "truncated or modified; restore the model directory")


def _read_onnx(model_dir: Path, config: dict, name: str) -> bytes:
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
    if _sha256_bytes(data) != entry.get("sha256"):
        raise ArtifactError(f"{path} does not match the checksum in {EXPORT_FILE}: the file was "
                            f"truncated or modified; re-run 'sentirnn export {model_dir}{flag}'")
    return data
