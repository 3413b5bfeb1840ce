"""ids → logits on worker threads: PyTorch's side of ``sentirnn.inference.pipeline``.

By default PyTorch runs every call on all cores (OpenMP intra-op threads). On a machine
where another process is busy that collapses: the threads of a call meet at a barrier after
every small op, and while one of them waits for the CPU the others spin or sleep, so each of
the thousands of small ops of a recurrent network pays a scheduling delay. Single-threaded
calls side by side have no barriers: on an idle machine they keep every core busy (as the
ONNX backend's sessions do), and on a busy one each simply gets less CPU.
``benchmarks/bench_contention.py`` measures both layouts, idle and beside a busy process.

In this build torch's intra-op thread count belongs to a thread, not to the process: a
thread takes the process default at its first torch call, and ``torch.set_num_threads`` sets
both the calling thread's count and that default. ``single_threaded_pool`` therefore puts
the default back once its threads are set, so neither the caller nor threads started later
(a training loop, a user's own code) lose cores.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

_SETUP = threading.Lock()  # one pool set up at a time: each changes the default briefly


def single_threaded_pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads, each running torch on one intra-op thread.

    The threads are started here, not on first use, so that the process default can be
    restored as soon as they have set their own count. A thread elsewhere that runs its
    very first torch op during these few microseconds would start with one thread too.
    """
    pool = ThreadPoolExecutor(workers, thread_name_prefix="sentirnn-torch",
                              initializer=_one_thread)
    with _SETUP:
        default = _in_new_thread(torch.get_num_threads)  # a new thread reads the default
        # Every task waits for all the others, so the pool has to start a thread for each.
        started = threading.Barrier(workers)
        for future in [pool.submit(started.wait) for _ in range(workers)]:
            future.result()
        _in_new_thread(torch.set_num_threads, default)  # the default, not the caller's count
    return pool


def _one_thread() -> None:
    # A thread takes the default at its first torch call, even one that comes after
    # set_num_threads in that thread; making that first call now lets the 1 stick.
    torch.get_num_threads()
    torch.set_num_threads(1)


def _in_new_thread(fn, *args):
    box = []
    thread = threading.Thread(target=lambda: box.append(fn(*args)))
    thread.start()
    thread.join()
    return box[0]
