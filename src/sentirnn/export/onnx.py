"""model → ONNX: ``export_onnx`` writes a model directory's network as ONNX files.

It writes the model's ``ClassifierNet`` (tensors in, tensors out) as ``model.onnx`` — and
optionally a dynamically quantised ``model.int8.onnx`` — next to the weights, checks the
result against PyTorch on a padded batch before it replaces anything, and records the files
and their SHA-256 in ``export.json``. The files are served by ``OnnxClassifier``
(``onnx_predictor.py``, re-exported here); torch is imported only when exporting.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sentirnn import __version__, artifacts
from sentirnn.errors import ArtifactError
from sentirnn.export.onnx_predictor import (
    EXPORT_FILE,
    EXPORT_FORMAT,
    FORMAT,
    INT8_FILE,
    ONNX_FILE,
    OnnxClassifier,
    onnx_session,
    read_export,
)
from sentirnn.inference.postprocess import softmax
from sentirnn.preprocess.batching import pad

# export_onnx and its checks live here; the predictor's names are re-exported for callers
# that import them from this module.
__all__ = ["OnnxClassifier", "export_net", "export_onnx", "onnx_session", "parity_batch",
           "read_export"]

PARITY_ATOL = 1e-4  # on probabilities; fp32 ONNX vs eager agree to ~1e-7 in practice
# Dynamic int8 quantisation covers the LSTM cells (DynamicQuantizeLSTM), the embedding
# table (Gather) and any MatMul. onnxruntime has no quantised GRU or RNN kernel, so those
# cells stay fp32; the head is a Gemm, which dynamic quantisation does not cover either.
# Every variant tried (per-tensor/per-channel, reduce_range, u8/s8 weights, shape
# pre-processing, with or without Gather) ran at about the same speed, well above fp32;
# quantising Gather makes the file much smaller at no cost, and per-channel weights agree
# with fp32 more often than per-tensor ones (docs/lab-notes.md).
QUANTIZED_OPS = ("MatMul", "LSTM", "Gather")
PER_CHANNEL = True


def require_onnx():
    try:
        # optional: onnx and onnxruntime are the 'export' extra
        import onnx
        import onnxruntime
    except ImportError:
        raise ImportError("ONNX export needs onnx and onnxruntime: "
                          "pip install 'sentirnn[export]' (or pip install onnx onnxruntime)"
                          ) from None
    return onnx, onnxruntime


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
    require_onnx()
    # torch comes with the estimator: imported here so OnnxClassifier alone never loads it
    # start-up: the estimator (torch) is imported only to export
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
        export_net(net, tmp[ONNX_FILE], opset)
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
    # start-up: torch stays off the torch-free ONNX path
    import torch

    with torch.inference_mode():
        logits = net(torch.from_numpy(ids), torch.from_numpy(lengths))
    return softmax(logits.float().numpy())


def export_net(net, path: Path, opset: int) -> None:
    """Write ``net`` (ids (B, T), lengths (B,) → logits (B, C)) as an ONNX graph with a
    dynamic batch and length."""
    # start-up: torch stays off the torch-free ONNX path
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
    # start-up: torch stays off the torch-free ONNX path
    from sentirnn.export.onnx_recurrent import ExportNet
    from sentirnn.models.rnn import RNNEncoder

    return ExportNet(net).eval() if isinstance(getattr(net, "encoder", None), RNNEncoder) \
        else net


def _quantize(source: Path, target: Path) -> None:
    # optional: onnxruntime is the 'export' extra
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
    session = onnx_session(path)
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
    return {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data), "precision": precision,
            "max_abs_diff": float(np.abs(got - want).max()),
            "label_agreement": float((got.argmax(1) == want.argmax(1)).mean()),
            **({"quantized_ops": list(QUANTIZED_OPS), "per_channel": PER_CHANNEL}
               if precision == "int8" else {})}


def _write_export_json(model_dir: Path, files: dict, opset: int, config: dict) -> Path:
    # optional: onnxruntime is the 'export' extra; torch only to check
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
