"""Keep freed memory in the process during training (glibc's malloc on Linux).

Every training step allocates and frees the same large blocks (gate activations, dropout
masks, gradients: tens of MB a batch). glibc serves blocks above its mmap threshold with
fresh ``mmap`` pages and hands them back with ``munmap`` when freed, so each step pays page
faults and zeroing for memory it had a moment ago; and it trims the heap top back to the
system whenever more than the trim threshold is free. Raising both thresholds makes
training faster with identical results (docs/results.md, "Memory allocator";
``benchmarks/bench_allocator.py``).

The price: memory a step freed stays with the process and can grow far past the peak a step
needs (fragmentation by batches of many lengths, we think). So training hands the free pages
back every TRIM_EVERY steps and after each validation (``malloc_trim``).
``SENTIRNN_MALLOC=system`` leaves glibc's defaults alone. Elsewhere (macOS, Windows, musl)
this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

import lightning as L

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
MMAP_THRESHOLD = 1 << 30  # blocks below 1 GiB come from the heap and are reused
TRIM_THRESHOLD = 1 << 31  # hand the heap top back only when 2 GiB of it is free
OPT_OUT = "SENTIRNN_MALLOC"
TRIM_EVERY = 100  # training steps between malloc_trim calls

_applied: bool | None = None  # None: not tried yet in this process
_libc = None  # glibc, once keep_freed_memory has set its thresholds


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; True when they are set.

    Called when training starts (classifier and language model) and when a PyTorch
    classifier first predicts (onnxruntime has its own allocator); safe to call again.
    """
    global _applied, _libc
    if _applied is not None:
        return _applied
    _applied = False
    if os.environ.get(OPT_OUT, "").lower() == "system":
        log.info("%s=system: glibc's malloc thresholds left as they are", OPT_OUT)
        return False
    libc = _glibc()
    if libc is None:
        return False
    _applied = bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                    and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    _libc = libc if _applied else None
    if not _applied:
        log.warning("glibc refused the malloc thresholds; training runs with its defaults")
    return _applied


def release_free_memory() -> bool:
    """Hand the heap's free pages back to the system (``malloc_trim(0)``) when the thresholds
    of :func:`keep_freed_memory` are set; True when it ran."""
    if _libc is None:
        return False
    _libc.malloc_trim(0)
    return True


class TrimFreedMemory(L.Callback):
    """Calls :func:`release_free_memory` every ``every`` training steps and after each
    validation (whose batches have shapes of their own)."""

    def __init__(self, every: int = TRIM_EVERY):
        self.every = every

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if (batch_idx + 1) % self.every == 0:
            release_free_memory()

    def on_validation_end(self, trainer, module):
        release_free_memory()


def _glibc():
    """The C library when it is glibc (it has ``gnu_get_libc_version``), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018 - musl has no such function
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    return libc
