"""Where and how a fit runs: device, precision, threads, the DDP layout, and Ctrl-C.

Every fit loop (classifier, language model) sets up its Lightning Trainer from these, and
the estimators check their device, lr and threads with ``check_run_params`` before any
data is read.
"""

from __future__ import annotations

import os
import signal
import threading

import lightning as L
import torch

from sentirnn.config import PRECISIONS, check_choice, check_range
from sentirnn.training.runtime import world

DEVICES = ("auto", "cpu", "cuda", "gpu")


def check_device(owner: str, device: str) -> None:
    """A known device, and a GPU only where there is one (Lightning would say so only in the
    name of one of its exception classes, after the data was read)."""
    check_choice(owner, "device", device, DEVICES)
    check_range(owner, "device", device, device not in ("cuda", "gpu")
                or torch.cuda.is_available(),
                "auto or cpu: this machine has no CUDA GPU that PyTorch can use")


def check_run_params(owner: str, model) -> None:
    """What every trained model (classifier, language model) checks before reading data:
    the device, the lr and the training threads."""
    check_device(owner, model.device)
    check_range(owner, "lr", model.lr, is_number(model.lr) and model.lr > 0, "a number > 0")
    check_range(owner, "num_threads", model.num_threads, model.num_threads is None
                or isinstance(model.num_threads, int) and model.num_threads >= 1,
                "an integer ≥ 1, or None (all cores)")


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def lightning_accelerator(device: str) -> str:
    check_device("SentimentClassifier", device)
    return {"cuda": "gpu"}.get(device, device)


def lightning_precision(precision: str, device: str, owner: str = "SentimentClassifier") -> str:
    """"auto" | "32" | "bf16" → Lightning's precision setting for this machine.

    "auto" is bf16 autocast on a CPU that multiplies bf16 natively (AVX512-BF16 or AMX),
    where training runs faster than in fp32 (docs/results.md, "bf16 training"); on a CPU
    without it bf16 is emulated and slower. Weights, optimizer state and losses stay fp32
    (autocast). GPUs keep fp32 unless asked.
    """
    precision = str(precision)  # 32 from a JSON config or --set means "32"
    check_choice(owner, "precision", precision, PRECISIONS)
    if precision == "auto":
        on_cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
        precision = "bf16" if on_cpu and native_bf16() else "32"
    return {"32": "32-true", "bf16": "bf16-mixed"}[precision]


def native_bf16() -> bool:
    """Whether this CPU multiplies bf16 in hardware (the probes are private torch API)."""
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def set_threads(num_threads: int | None) -> None:
    """Use every core unless told otherwise (torch's default can be lower in containers)."""
    torch.set_num_threads(num_threads or os.cpu_count() or 1)


def distributed_layout() -> dict:
    """Trainer devices/nodes/strategy: under torchrun, one process per device (DDP).

    Lightning counts one CPU device per process by default and then refuses torchrun's world
    size, so the local process count and the node count are passed explicitly.
    """
    size = world()[1]
    if size == 1:
        return {"devices": "auto", "strategy": "auto"}
    local = int(os.environ.get("LOCAL_WORLD_SIZE", size))
    return {"devices": local, "num_nodes": max(1, size // local), "strategy": "ddp"}


def fit_interruptibly(trainer: L.Trainer, *args) -> None:
    """``trainer.fit``, but Ctrl-C arrives as KeyboardInterrupt: Lightning turns it into
    ``sys.exit(1)`` after ignoring SIGINT, which would end a script silently with the wrong
    status. The SIGINT handler in place before is put back however fit ends, or a notebook
    (or a test session) would stay deaf to the next Ctrl-C."""
    main = threading.current_thread() is threading.main_thread()  # only it may set handlers
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        trainer.fit(*args)
    except SystemExit:
        if not trainer.interrupted:
            raise
        raise KeyboardInterrupt from None
    finally:
        if main:  # None: a handler not set from Python, which cannot be put back
            signal.signal(signal.SIGINT, signal.default_int_handler if previous is None
                          else previous)
