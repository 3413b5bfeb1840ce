"""--backend NAME → a loaded classifier: the one place that maps backend names to runtimes.

``predict``, ``evaluate`` and ``serve`` share it. "auto" takes the first backend of
``AUTO_ORDER`` that this machine and this model directory allow (its package installed, its
file exported, its precision native here), so serving never needs to know which exports a
directory holds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sentirnn.errors import ArtifactError, ConfigError

BACKENDS = ("torch", "onnx", "onnx-int8", "openvino", "openvino-bf16")
# Fastest first at equal accuracy (within 0.5 points of PyTorch), as bench_inference.py
# measures them: OpenVINO in bf16 where the CPU has it natively, then onnxruntime's int8
# LSTM, then the fp32 runtimes (even with each other: onnxruntime first, the runtime the
# export's own parity check runs on); torch, which every directory can serve, last.
AUTO_ORDER = ("openvino-bf16", "onnx-int8", "onnx", "openvino", "torch")
RUNTIME = {"onnx": "onnxruntime", "onnx-int8": "onnxruntime", "openvino": "openvino",
           "openvino-bf16": "openvino"}


def check_backend(backend: str) -> str:
    choices = (*BACKENDS, "auto")
    if backend not in choices:
        raise ConfigError(f"--backend must be one of {', '.join(choices)}, not {backend!r}")
    return backend


def usable(model_dir, backend: str) -> bool:
    """Whether ``backend`` can serve ``model_dir`` here, checked without loading anything."""
    # start-up: the predictor modules load scikit-learn's metrics (~1 s); "torch" needs none
    from sentirnn.export.onnx_predictor import INT8_FILE, ONNX_FILE, read_export

    if backend == "torch":
        return True
    if importlib.util.find_spec(RUNTIME[backend]) is None:
        return False
    try:
        files = read_export(model_dir)["files"]
    except ArtifactError:
        return False
    if (INT8_FILE if backend == "onnx-int8" else ONNX_FILE) not in files:
        return False
    if backend == "openvino-bf16":
        from sentirnn.export.openvino_predictor import has_native_bf16  # start-up: as above

        return has_native_bf16()
    return True


def resolve(model_dir, backend: str) -> str:
    """``backend``, or for "auto" the first of ``AUTO_ORDER`` that can serve ``model_dir``."""
    check_backend(backend)
    if backend != "auto":
        return backend
    return next(name for name in AUTO_ORDER if usable(Path(model_dir), name))


def load_classifier(model_dir, backend: str, threads: int | None = None):
    """A classifier for ``backend`` ("auto" resolved first), scoring with ``threads``
    single-threaded calls side by side (None: one per core). Torch is imported only for
    the torch backend."""
    backend = resolve(model_dir, backend)
    if backend == "torch":
        # start-up: torch takes seconds to import, and no other backend needs it
        from sentirnn.estimators.classifier import load

        # any classifier directory: a baseline, an ensemble, a multi-label model too
        return load(model_dir).set_threads(threads)
    if backend.startswith("openvino"):
        # start-up: each runtime's module loads only when that runtime serves
        from sentirnn.export.openvino_predictor import OpenVinoClassifier

        return OpenVinoClassifier.load(model_dir, precision="bf16" if backend.endswith("bf16")
                                       else "fp32", num_threads=threads)
    from sentirnn.export.onnx_predictor import OnnxClassifier  # start-up: as above

    return OnnxClassifier.load(model_dir, int8=backend == "onnx-int8", num_threads=threads)
