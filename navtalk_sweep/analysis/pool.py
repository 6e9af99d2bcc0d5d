"""Rendering and measuring in worker processes, so a tuning run uses every core.

Face mesh, resizing and H.264 encoding hold the GIL for much of their time, so threads give a
2-core machine about one core of this work. :func:`call` runs a function in a process pool sized
to the machine (each worker starts its own MediaPipe graph the first time it needs one). The
caller blocks its own thread only; several threads calling at once keep every worker busy. The mock
renders its result videos here too (``mock_server.video``), so a tuning run's parent only runs the
sweep.

``NAVTALK_SWEEP_WORKERS=auto`` (one worker per core) or a number sets it; 0 runs everything in the
calling process. Unset: on for ``navtalk-sweep run`` (the CLI calls :func:`use_by_default`), off for
the Python API, whose caller's ``__main__`` a spawned worker would import again (a script without a
``__name__ == "__main__"`` guard would start its run anew in every worker).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import ParamSpec, TypeVar

__all__ = ["call", "workers"]

P = ParamSpec("P")
R = TypeVar("R")

_pool: ProcessPoolExecutor | None = None
_pid = 0
_lock = threading.Lock()


_default = "0"


def use_by_default() -> None:
    """One worker per core unless ``NAVTALK_SWEEP_WORKERS`` says otherwise (the CLI: its ``__main__`` is guarded)."""
    global _default
    _default = "auto"


def workers() -> int:
    """Worker processes: ``NAVTALK_SWEEP_WORKERS`` (``auto``: the cores this process may use), else the default."""
    given = os.environ.get("NAVTALK_SWEEP_WORKERS", "").strip() or _default
    if given.isdigit():
        return int(given)
    if given == "auto":
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return 0


def _worker_start(parent: int) -> None:
    """In each worker: Ctrl-C is the parent's to handle (a terminal sends it to the whole process group),
    and a worker dies with its parent, so a killed run leaves no process holding its pipes open. A parent
    killed while the worker was still starting is gone before the kernel is asked: the worker checks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # orphaned already (a killed worker's spare found it in a test)
        os._exit(1)
    try:  # the pool spreads the work over the cores: OpenCV's own threads only add their hand-offs
        import cv2

        cv2.setNumThreads(1)
    except ImportError:
        pass


def _executor() -> ProcessPoolExecutor | None:
    global _pool, _pid
    count = workers()
    if count < 1:
        return None
    with _lock:
        if _pool is None or _pid != os.getpid():  # a forked child does not inherit a usable pool
            # spawn: workers start from a clean process (not a copy of one with threads and graphs) and are
            # this process's own children, so PR_SET_PDEATHSIG kills them with it. A forkserver's workers are
            # its children: a SIGKILLed run left the forkserver, its workers and the resource tracker running
            # (a test kills a pooled run and looks for them)
            _pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_worker_start, initargs=(os.getpid(),))
            _pid = os.getpid()
        return _pool


def call(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` in a worker process (here, when there are none); exceptions come back as raised."""
    global _pool
    pool = _executor()
    if pool is None:
        return fn(*args, **kwargs)
    try:
        return pool.submit(fn, *args, **kwargs).result()
    except BrokenProcessPool:  # a worker died (killed, out of memory): once more, in a new pool
        with _lock:
            _pool = None
        pool = _executor()
        assert pool is not None
        return pool.submit(fn, *args, **kwargs).result()
