"""Process pools for reading spectrum files: safe with JAX, and dying with their parent.

Workers are spawned, not forked (forking a process whose JAX threads hold locks can
deadlock the child; a fork server would be their parent and outlive ``bench``), and each
asks the kernel to kill it when its parent goes (``PR_SET_PDEATHSIG`` on Linux) and
watches its parent id, so a kill -9 or SIGTERM of ``bench`` never leaves workers behind.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1
START_METHOD = "spawn"


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes that end when this process ends, however it ends."""
    context = multiprocessing.get_context(START_METHOD)
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


def die_with_parent(parent: int) -> None:
    """Worker initializer: end this process as soon as ``parent`` (its creator) is gone."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before this worker got here
        os._exit(1)
    threading.Thread(target=_watch, args=(parent,), daemon=True).start()


def _watch(parent: int, every: float = 0.5) -> None:
    """Exit once this process has been re-parented (where the kernel cannot be asked)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)
