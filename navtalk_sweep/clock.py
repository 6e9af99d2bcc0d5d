"""Time, injected: a manual clock for tests and an asyncio loop that runs on virtual time.

With :func:`run_virtual`, ``asyncio.sleep`` and ``loop.time()`` follow a virtual clock
that jumps straight to the next timer whenever nothing is ready to run, so thousands
of tasks that each "take" minutes finish in a fraction of a second, with no real
sleeps and the same order of events as in real time. Work in threads takes no virtual
time; while the loop has no timer at all it blocks until a thread (or a socket) wakes it.
"""

from __future__ import annotations

import asyncio
import selectors
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["ManualClock", "monotonic", "run_virtual"]

T = TypeVar("T")


def monotonic() -> float:
    """The real clock."""
    return time.monotonic()


class ManualClock:
    """A clock that moves only when told: ``clock()`` reads it, ``advance(s)`` moves it."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"time only moves forward, got {seconds}")
        self.now += seconds
        return self.now


class _JumpingSelector(selectors.SelectSelector):
    """A selector that, instead of waiting ``timeout`` seconds, moves the clock by it."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            # no timer at all: only a thread's result (the loop's self-pipe) or a socket can wake the
            # loop, and polling for it would spin a core that the thread needs
            return super().select(None)
        ready = super().select(0)
        if not ready and timeout:
            self._clock.advance(timeout)
        return ready


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self, clock: ManualClock) -> None:
        super().__init__(_JumpingSelector(clock))
        self._virtual = clock

    def time(self) -> float:
        return self._virtual.now


def run_virtual(main: Coroutine[Any, Any, T], clock: ManualClock | None = None) -> T:
    """Run ``main`` to completion on an event loop whose time is ``clock``."""
    loop = _VirtualLoop(clock or ManualClock())
    try:
        return loop.run_until_complete(main)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
