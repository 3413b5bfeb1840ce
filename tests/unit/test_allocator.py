"""glibc's malloc thresholds: once training starts, big freed blocks stay with the process
instead of going back to the system (mmap/munmap each step). Each case runs in a fresh
interpreter because the thresholds are process-wide and other tests train models."""

import ctypes
import ctypes.util
import os
import subprocess
import sys
import textwrap

import pytest


def _has_mallinfo2() -> bool:
    try:
        return hasattr(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6"), "mallinfo2")
    except OSError:
        return False


# Each test probes the allocator in a fresh Python subprocess (4–10 s apiece).
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not sys.platform.startswith("linux") or not _has_mallinfo2(),
                                 reason="needs glibc ≥ 2.33 (mallinfo2)")]

# Prints the bytes of mmapped blocks (mallinfo2's hblkhd) while a 64 MiB block is held,
# before and after keep_freed_memory(), then what keep_freed_memory() returned.
PROBE = textwrap.dedent("""
    import ctypes, ctypes.util
    from sentirnn.training.allocator import keep_freed_memory

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.mallinfo2.restype = Info
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def mapped_while_holding(size=64 << 20):
        block = libc.malloc(size)
        mapped = libc.mallinfo2().hblkhd
        libc.free(block)
        return mapped

    before = mapped_while_holding()
    applied = keep_freed_memory()
    print(before, mapped_while_holding(), applied, keep_freed_memory())
""")


def _probe(**env) -> tuple[int, int, bool, bool]:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, **env}).stdout.split()
    return int(out[0]), int(out[1]), out[2] == "True", out[3] == "True"


def test_big_blocks_come_from_the_heap_once_training_starts():
    before, after, applied, again = _probe(SENTIRNN_MALLOC="")
    assert before >= 64 << 20  # glibc's default: a 64 MiB block is its own mapping
    assert applied and again  # set once, and a second call reports it set
    assert after < 64 << 20  # now it comes from the heap and stays there when freed


def test_sentirnn_malloc_system_leaves_glibc_alone():
    before, after, applied, _ = _probe(SENTIRNN_MALLOC="system")
    assert not applied
    assert before >= 64 << 20 and after >= 64 << 20


# Resident pages (/proc/self/statm) after 32 touched 8 MiB blocks were freed, then after
# release_free_memory(); the blocks sit below one live block so the heap top cannot shrink.
TRIM_PROBE = textwrap.dedent("""
    import ctypes, ctypes.util, os
    from sentirnn.training.allocator import keep_freed_memory, release_free_memory

    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]

    def resident():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    trimmed_before = release_free_memory()
    keep_freed_memory()
    blocks = [libc.malloc(8 << 20) for _ in range(32)]
    for b in blocks:
        ctypes.memset(b, 1, 8 << 20)
    keep = libc.malloc(8 << 20)
    for b in blocks:
        libc.free(b)
    held = resident()
    print(trimmed_before, held - resident(), release_free_memory(), held - resident())
""")


def test_free_pages_go_back_to_the_system_when_training_trims():
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE], capture_output=True, text=True,
                         check=True, env={**os.environ, "SENTIRNN_MALLOC": ""}).stdout.split()
    trimmed_before, kept, trimmed, released = out[0] == "True", int(out[1]), out[2] == "True", \
        int(out[3])
    assert not trimmed_before  # nothing to trim before the thresholds are set
    assert kept < 32 << 20  # freeing alone keeps the 256 MiB resident
    assert trimmed and released > 200 << 20  # malloc_trim hands most of it back


# A model trained and saved here, loaded in a fresh interpreter: predicting sets the
# thresholds there too (None before: not tried yet), so inference gets what training gets.
PREDICT_PROBE = textwrap.dedent("""
    import sys
    import sentirnn.training.allocator as allocator
    from sentirnn import load

    clf = load(sys.argv[1])
    before = allocator._applied
    clf.predict_proba(["good food", "bad"])
    print(before, allocator._applied)
""")


def test_predicting_with_a_loaded_model_sets_the_thresholds(tmp_path, en_corpus, fast_params):
    from sentirnn import SentimentClassifier

    SentimentClassifier(**{**fast_params, "max_epochs": 1}).fit(*en_corpus).save(tmp_path / "m")
    for malloc, expected in (("", "None True"), ("system", "None False")):
        out = subprocess.run([sys.executable, "-c", PREDICT_PROBE, str(tmp_path / "m")],
                             capture_output=True, text=True, check=True,
                             env={**os.environ, "SENTIRNN_MALLOC": malloc}).stdout.split()
        assert " ".join(out[-2:]) == expected
