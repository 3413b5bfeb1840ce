"""translator → ONNX: the encoder and one decoder step as two graphs, checked against torch.

A translation is a loop whose length depends on what it outputs, so it is not one graph:
``encoder.onnx`` reads the sources once and ``decoder_step.onnx`` moves every hypothesis on
by one token. The loop — greedy or beam search — is the numpy code of
``sentirnn.inference.decode``, the same the PyTorch path runs, and ``OnnxTranslator``
(``onnx_translator.py``) drives it on onnxruntime without torch. As for the classifier, the
files go into the model directory next to the weights and are recorded with their SHA-256 in
``export.json``, after a parity check against PyTorch; torch is imported only when exporting.

Graphs (batch and source length dynamic; ``c``/``next_c`` only for LSTM cells)::

    encoder.onnx       src int64 (batch, source), lengths int64 (batch,)
                       → memory (batch, source, 2·encoder_hidden), keys (batch, source, Q),
                         mask bool (batch, source), h (layers, batch, decoder_hidden)[, c],
                         feed (batch, O)
    decoder_step.onnx  token int64 (batch,), h[, c], feed, keys, memory, mask
                       → logp (batch, target_vocab), vector (batch, O), next_h[, next_c],
                         weights (batch, source)

``logp`` are log-probabilities of the next token, ``vector`` the attentional vector (the next
step's ``feed``). A graph may leave out an input its network never reads (``feed`` without
input feeding; ``keys`` and ``memory`` without attention); the predictor feeds what a graph
declares.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from sentirnn import __version__, artifacts
from sentirnn.errors import ArtifactError
from sentirnn.export.onnx_predictor import EXPORT_FILE, EXPORT_FORMAT, onnx_session
from sentirnn.export.onnx_translator import (
    DECODER_FILE,
    ENCODER_FILE,
    FORMAT,
    OnnxStepper,
)
from sentirnn.inference.decode import search_greedy
from sentirnn.preprocess.batching import pad

PARITY_ATOL = 1e-4  # on log-probabilities, attention weights and states
LENGTHS = (1, 2, 3, 5, 9, 17, 40)  # parity batch: very different source lengths


def export_translator(model_dir, *, opset: int = 17) -> list[Path]:
    """Export a translator directory's network as ``encoder.onnx`` and ``decoder_step.onnx``.

    Parameters
    ----------
    model_dir : path of a directory written by ``Translator.save``.
    opset : ONNX opset version.

    Returns
    -------
    list of Path
        The files written: the two graphs and ``export.json``.

    Raises
    ------
    ArtifactError
        If the graphs' outputs differ from PyTorch's by more than 1e-4 on a padded batch
        (or a greedy translation of it differs); nothing is replaced then.

    Examples
    --------
    >>> export_translator("models/en-zh")  # doctest: +SKIP
    [PosixPath('models/en-zh/encoder.onnx'), PosixPath('models/en-zh/decoder_step.onnx'), ...]
    """
    # start-up: the translator (torch) is imported only to export one
    from sentirnn.estimators.translator import Translator
    from sentirnn.export.onnx import require_onnx

    require_onnx()
    model_dir = Path(model_dir)
    config = artifacts.read_config(model_dir, FORMAT)
    net = Translator.load(model_dir).net_.eval()
    src, lengths = parity_batch(net.config.source_vocab,
                                int(config["params"].get("max_source_tokens", 100)))
    names = (ENCODER_FILE, DECODER_FILE)
    tmp = {name: model_dir / f".{name}.tmp-{uuid.uuid4().hex[:8]}" for name in names}
    try:
        export_graphs(net, tmp[ENCODER_FILE], tmp[DECODER_FILE], opset)
        diffs, agreement = check_parity(net, tmp[ENCODER_FILE].read_bytes(),
                                        tmp[DECODER_FILE].read_bytes(), src, lengths)
        worst = max(diffs.values())
        if worst > PARITY_ATOL or agreement < 1.0:
            raise ArtifactError(
                f"the exported translator differs from PyTorch by {worst:.2e} (limit "
                f"{PARITY_ATOL:g}) and agrees on {agreement:.0%} of greedy translations; "
                "nothing was written — report this with the model's config.json")
        files = {}
        for name in names:
            data = tmp[name].read_bytes()
            files[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                           "precision": "fp32", "max_abs_diff": diffs[name]}
        written = []
        for name in names:
            os.replace(tmp[name], model_dir / name)
            written.append(model_dir / name)
        written.append(_write_export_json(model_dir, files, opset, config, net, agreement))
    finally:
        for path in tmp.values():
            path.unlink(missing_ok=True)
    return written


def parity_batch(vocab_size: int, max_tokens: int, seed: int = 0
                 ) -> tuple[np.ndarray, np.ndarray]:
    """A seeded padded batch of random source ids, longest first, one to ≤ 40 tokens."""
    rng = np.random.default_rng(seed)
    lengths = sorted({min(n, max(1, max_tokens)) for n in LENGTHS}, reverse=True)
    # ids from 1: <unk> included, <pad> (0) only as padding
    return pad([rng.integers(1, max(2, vocab_size), size=n).tolist() for n in lengths])


def export_graphs(net, encoder_path: Path, decoder_path: Path, opset: int) -> None:
    """Trace ``net`` (a Seq2SeqNet in eval mode) into the two graphs of this module."""
    # start-up: torch stays off the torch-free ONNX path
    import torch
    from torch import nn

    lstm = net.config.cell == "lstm"
    state_in = ["h", "c"] if lstm else ["h"]

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, src, lengths):
            memory, keys, mask, state, feed = self.net.encode(src, lengths)
            return (memory, keys, mask, *(state if lstm else (state,)), feed)

    class DecoderStep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.decoder = net.decoder

        def forward(self, token, *rest):
            state = tuple(rest[:len(state_in)]) if lstm else rest[0]
            feed, keys, memory, mask = rest[len(state_in):]
            vector, state, weights = self.decoder.step(token, state, feed, keys, memory, mask)
            logp = torch.log_softmax(self.decoder.logits(vector), dim=1)  # (B, V)
            return (logp, vector, *(state if lstm else (state,)), weights)

    # Two sentences of different lengths, so nothing specialises on one shape while tracing.
    src = torch.tensor([[5, 6, 7, 8, 9], [5, 6, 0, 0, 0]], dtype=torch.long) \
        .clamp(max=net.config.source_vocab - 1)
    lengths = torch.tensor([5, 2], dtype=torch.long)
    batch = {0: "batch"}
    batch_source = {0: "batch", 1: "source"}
    layers_batch = {1: "batch"}
    with warnings.catch_warnings(), torch.inference_mode():
        # The legacy (TorchScript) exporter, as for the classifier: it exports the packed
        # bidirectional encoder and the recurrent cell with dynamic shapes. The parity check
        # after export, on other batch sizes and lengths, shows the graphs are general.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        encoded = net.encode(src, lengths)
        enc_out = ["memory", "keys", "mask", *state_in, "feed"]
        torch.onnx.export(
            Encoder().eval(), (src, lengths), str(encoder_path), opset_version=opset,
            input_names=["src", "lengths"], output_names=enc_out, dynamo=False,
            dynamic_axes={"src": batch_source, "lengths": batch, "memory": batch_source,
                          "keys": batch_source, "mask": batch_source, "feed": batch,
                          **{name: layers_batch for name in state_in}})
        memory, keys, mask, state, feed = encoded
        token = torch.tensor([4, 5], dtype=torch.long).clamp(max=net.config.target_vocab - 1)
        state = state if lstm else (state,)
        step_in = ["token", *state_in, "feed", "keys", "memory", "mask"]
        step_out = ["logp", "vector", *(f"next_{s}" for s in state_in), "weights"]
        torch.onnx.export(
            DecoderStep().eval(), (token, *state, feed, keys, memory, mask), str(decoder_path),
            opset_version=opset, input_names=step_in, output_names=step_out, dynamo=False,
            dynamic_axes={"token": batch, "feed": batch, "keys": batch_source,
                          "memory": batch_source, "mask": batch_source, "logp": batch,
                          "vector": batch, "weights": batch_source,
                          **{name: layers_batch for name in state_in},
                          **{f"next_{name}": layers_batch for name in state_in}})


def check_parity(net, encoder: bytes, decoder: bytes, src: np.ndarray, lengths: np.ndarray
                 ) -> tuple[dict[str, float], float]:
    """→ the largest difference of each graph's outputs from PyTorch's (over the padded batch
    and a batch of one, for a few steps) and the share of identical greedy translations."""
    # start-up: torch stays off the torch-free ONNX path
    import torch

    from sentirnn.inference.decode import TorchStepper, greedy

    encoder_session, decoder_session = onnx_session(encoder), onnx_session(decoder)
    diffs = {ENCODER_FILE: 0.0, DECODER_FILE: 0.0}
    n = int(lengths[-1])
    with torch.inference_mode():
        for ids, lens in ((src, lengths), (src[-1:, :n], lengths[-1:])):
            theirs = OnnxStepper(encoder_session, decoder_session, ids, lens)
            ours = TorchStepper(net, torch.from_numpy(ids), torch.from_numpy(lens))
            state = ours.state if isinstance(ours.state, tuple) else (ours.state,)
            mine = [ours.memory, ours.keys, ours.mask, *state, ours.feed]
            diffs[ENCODER_FILE] = max(diffs[ENCODER_FILE], _diff(theirs.encoded(), mine))
            token = np.full(len(lens), 2, dtype=np.int64)  # <s>
            for _ in range(3):
                got, want = theirs.step(token), ours.step(token)
                diffs[DECODER_FILE] = max(diffs[DECODER_FILE], _diff(got, want))
                # both continue from PyTorch's state, so differences do not add up
                theirs.state = [s.numpy() for s in (ours.state if isinstance(ours.state, tuple)
                                                    else (ours.state,))]
                theirs.feed = ours.feed.numpy()
                token = want[0].argmax(axis=1)
        torch_hyps = greedy(net, torch.from_numpy(src), torch.from_numpy(lengths))
    onnx_hyps = search_greedy(OnnxStepper(encoder_session, decoder_session, src, lengths),
                              lengths)
    agreement = float(np.mean([a.ids == b.ids for a, b in zip(torch_hyps, onnx_hyps)]))
    return diffs, agreement


def _diff(got, want) -> float:
    worst = 0.0
    for a, b in zip(got, want):
        b = b.numpy() if hasattr(b, "numpy") else b
        if a.shape != b.shape:
            raise ArtifactError(f"an exported translator graph returns shape {a.shape} where "
                                f"PyTorch gives {b.shape}; nothing was written")
        a, b = a.astype(np.float64), b.astype(np.float64)
        finite = np.isfinite(b)
        if not np.array_equal(finite, np.isfinite(a)):
            return float("inf")
        worst = max(worst, float(np.abs(a[finite] - b[finite]).max(initial=0.0)))
    return worst


def _write_export_json(model_dir: Path, files: dict, opset: int, config: dict, net,
                       agreement: float) -> Path:
    # start-up: torch stays off the torch-free ONNX path
    import onnxruntime
    import torch

    state = "(layers, batch, decoder_hidden)"
    states = {"h": state, **({"c": state} if net.config.cell == "lstm" else {})}
    record = {
        "format": EXPORT_FORMAT, "format_version": 1, "model_format": FORMAT,
        "sentirnn_version": __version__, "torch_version": torch.__version__,
        "onnxruntime_version": onnxruntime.__version__, "opset": opset,
        "parity_atol": PARITY_ATOL, "greedy_agreement": agreement,
        # Ties the ONNX files to the weights they came from (config.json's checksum).
        "weights_sha256": (config.get("checksums") or {}).get(artifacts.WEIGHTS),
        "graphs": {
            ENCODER_FILE: {
                "inputs": {"src": "int64 (batch, source)", "lengths": "int64 (batch,)"},
                "outputs": {"memory": "float32 (batch, source, 2·encoder_hidden)",
                            "keys": "float32 (batch, source, query)",
                            "mask": "bool (batch, source)",
                            **{k: f"float32 {v}" for k, v in states.items()},
                            "feed": "float32 (batch, vector)"}},
            DECODER_FILE: {
                "inputs": {"token": "int64 (batch,)",
                           **{k: f"float32 {v}" for k, v in states.items()},
                           "feed": "float32 (batch, vector)",
                           "keys": "float32 (batch, source, query)",
                           "memory": "float32 (batch, source, 2·encoder_hidden)",
                           "mask": "bool (batch, source)"},
                "outputs": {"logp": "float32 (batch, target_vocab)",
                            "vector": "float32 (batch, vector)",
                            **{f"next_{k}": f"float32 {v}" for k, v in states.items()},
                            "weights": "float32 (batch, source)"}}},
        "files": files,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = model_dir / EXPORT_FILE
    tmp = model_dir / f".{EXPORT_FILE}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)
    return path
