"""exported ONNX → labels through OpenVINO: ``OpenVinoClassifier``, torch-free.

It reads the same ``model.onnx`` as ``OnnxClassifier`` and shares its whole front end
(``ExportedClassifier``: checks, text pipeline, batching, post-processing); only the
sessions differ. Two precisions: "fp32" (the same probabilities as PyTorch, to ~1e-6) and
"bf16" (OpenVINO's bf16 inference on CPUs that have it natively: AMX or AVX512-BF16).

OpenVINO's CPU recurrent kernels ignore ``sequence_lens`` when shapes are dynamic: each text
runs on through the padding, and the backward direction starts at the padded end, so a
padded text scored differently from the same text alone. ``length_aware`` rewrites each
recurrent op before compiling, as the PyTorch encoder computes it: one forward op per
direction, the backward one on each text reversed within its own length, and zeros on
the padded steps.
"""

from __future__ import annotations

import numpy as np

from sentirnn.errors import ConfigError
from sentirnn.export.onnx_predictor import ONNX_FILE, ExportedClassifier
from sentirnn.inference.predict import Predictor

PRECISIONS = ("fp32", "bf16")
HINTS = {"fp32": "f32", "bf16": "bf16"}  # OpenVINO's INFERENCE_PRECISION_HINT values
RECURRENT = ("LSTMSequence", "GRUSequence", "RNNSequence")


def require_openvino():
    try:
        import openvino  # optional: the 'export' extra
    except ImportError:
        raise ImportError("the OpenVINO backend needs openvino: pip install openvino "
                          "(or pip install 'sentirnn[export]')") from None
    return openvino


def has_native_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 natively here (AMX or AVX512-BF16)."""
    ov = require_openvino()
    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def length_aware(model):
    """Rewrite every recurrent op of an OpenVINO model so that padding changes nothing.

    Each direction becomes a "forward" op of its own; the backward direction reads each
    text reversed within its length and its outputs are reversed back; the padded steps
    of every output are zeroed. The graph then means what the ONNX graph means.
    """
    require_openvino()
    import openvino.opset13 as ops  # optional: the 'export' extra

    for node in [n for n in model.get_ordered_ops() if n.get_type_name() in RECURRENT]:
        kind = node.get_type_name()
        for port in range(1, node.get_output_size()):
            if node.output(port).get_target_inputs():
                raise ConfigError(f"this network reads the final state of its {kind}, which "
                                  "OpenVINO computes past each text's end; serve it with "
                                  "--backend onnx")
        attrs = node.get_attributes()
        inputs = [node.input_value(i) for i in range(node.get_input_size())]
        lstm = kind == "LSTMSequence"
        x, lengths = inputs[0], inputs[3 if lstm else 2]  # x (B, T, I), lengths (B,)
        states = inputs[1:3] if lstm else inputs[1:2]  # (B, D, H) each
        weights = inputs[4:] if lstm else inputs[3:]  # W (D, G·H, I), R (D, G·H, H), B
        directions = (["forward", "reverse"] if attrs["direction"] == "bidirectional"
                      else [attrs["direction"]])
        steps = ops.gather(ops.shape_of(x), ops.constant(1), ops.constant(0))  # T
        step = ops.unsqueeze(ops.range(ops.constant(0, np.int64), steps,
                                       ops.constant(1, np.int64), "i64"), ops.constant(0))
        length = ops.unsqueeze(ops.convert(lengths, "i64"), ops.constant(1))
        valid = ops.less(step, length)  # (B, T): step t of text b is a real token
        # (B, T): where each step of a text reversed within its length comes from (its own
        # step on padding). A Gather with it, not ReverseSequence: OpenVINO's CPU
        # ReverseSequence is a reference kernel that took longer than the LSTM itself.
        mirror = ops.select(valid, ops.subtract(ops.subtract(length, step),
                                                ops.constant(1, np.int64)), step)
        keep = ops.unsqueeze(ops.convert(valid, x.get_element_type()), ops.constant([1, 3]))
        outputs = []
        for d, direction in enumerate(directions):
            one = [ops.gather(value, ops.constant([d]), ops.constant(1)) for value in states]
            one += [ops.gather(value, ops.constant([d]), ops.constant(0)) for value in weights]
            source = x if direction == "forward" else ops.gather(x, mirror, 1, 1)
            y = _sequence(ops, kind, source, one, lengths, attrs).output(0)  # (B, 1, T, H)
            if direction == "reverse":
                y = ops.unsqueeze(ops.gather(ops.squeeze(y, ops.constant([1])), mirror, 1, 1),
                                  ops.constant([1])).output(0)
            outputs.append(ops.multiply(y, keep).output(0))  # zeros on padding
        y = outputs[0] if len(outputs) == 1 else ops.concat(outputs, 1).output(0)
        for target in node.output(0).get_target_inputs():
            target.replace_source_output(y)
    model.validate_nodes_and_infer_types()
    return model


def _sequence(ops, kind: str, x, one: list, lengths, attrs: dict):
    """One forward recurrent op with a single direction's states and weights."""
    common = dict(hidden_size=attrs["hidden_size"], direction="forward",
                  activations=attrs["activations"], activations_alpha=attrs["activations_alpha"],
                  activations_beta=attrs["activations_beta"], clip=attrs["clip"])
    if kind == "LSTMSequence":
        h, c, w, r, b = one
        return ops.lstm_sequence(x, h, c, lengths, w, r, b, **common)
    h, w, r, b = one
    if kind == "GRUSequence":
        return ops.gru_sequence(x, h, lengths, w, r, b,
                                linear_before_reset=attrs["linear_before_reset"], **common)
    return ops.rnn_sequence(x, h, lengths, w, r, b, **common)


def compile_onnx(model: bytes, precision: str = "fp32", streams: int = 1):
    """An OpenVINO model compiled for the CPU from ONNX bytes (length-aware, see the module
    docstring): ``streams`` single-threaded streams, each for one call at a time."""
    ov = require_openvino()
    core = ov.Core()
    graph = length_aware(core.read_model(model, b""))
    return core.compile_model(graph, "CPU", {
        "INFERENCE_PRECISION_HINT": HINTS[precision],
        "NUM_STREAMS": streams, "INFERENCE_NUM_THREADS": streams,
        # Pinning binds OpenVINO's threads to cores: a process sharing the machine (the
        # other worker, a neighbour) then cannot move them off a busy core.
        "ENABLE_CPU_PINNING": False,
    })


class _Session:
    """An OpenVINO infer request behind onnxruntime's ``run(output_names, feeds)``."""

    def __init__(self, request):
        self.request = request

    def run(self, names, feeds):
        return [self.request.infer(feeds)[0]]


class OpenVinoClassifier(ExportedClassifier):
    """A sentiment classifier served by OpenVINO on the exported ONNX: same predict API,
    no torch.

    Build one with :meth:`OpenVinoClassifier.load` on a model directory that
    ``sentirnn export`` has run on.

    Attributes
    ----------
    classes_ : list of str
        The label names, in the column order of ``predict_proba``.
    precision_ : {"fp32", "bf16"}
        The precision OpenVINO computes in.

    Examples
    --------
    >>> clf = OpenVinoClassifier.load("models/waimai", precision="bf16")  # doctest: +SKIP
    >>> clf.predict(["送餐太慢了"])  # doctest: +SKIP
    ['negative']
    """

    runtime = "OpenVINO"

    @classmethod
    def load(cls, model_dir, precision: str = "fp32", num_threads: int | None = None,
             batch_size: int = Predictor.inference_batch_size) -> OpenVinoClassifier:
        """Load an exported model directory (checksums verified; torch never imported).

        Parameters
        ----------
        model_dir : path of a model directory with ``model.onnx`` and ``export.json``.
        precision : "fp32", or "bf16" on a CPU with native bf16 (AMX, AVX512-BF16); a
            ConfigError elsewhere, where OpenVINO would run it in fp32 without saying so.
        num_threads : cores to use; None = all. Up to ``num_threads`` single-threaded calls
            run side by side, one per OpenVINO stream; the streams share one copy of the
            weights.
        batch_size : texts per OpenVINO call (batches are sorted by length).
        """
        if precision not in PRECISIONS:
            raise ConfigError(f"The 'precision' parameter of OpenVinoClassifier.load must be "
                              f"one of {PRECISIONS}. Got {precision!r} instead.")
        require_openvino()
        if precision == "bf16" and not has_native_bf16():
            raise ConfigError("this CPU has no native bf16 (AMX or AVX512-BF16), so OpenVINO "
                              "would compute in fp32; use precision 'fp32' (--backend "
                              "openvino)")
        return cls._read(model_dir, ONNX_FILE, precision, num_threads, batch_size)

    @classmethod
    def _sessions(cls, model: bytes, workers: int, precision: str) -> list:
        compiled = compile_onnx(model, precision, workers)
        return [_Session(compiled.create_infer_request()) for _ in range(workers)]
