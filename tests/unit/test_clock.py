"""The virtual clock: timers jump, and a wait on a thread blocks instead of spinning a core."""

from __future__ import annotations

import asyncio
import threading

from navtalk_sweep import clock as clock_module
from navtalk_sweep.clock import ManualClock, run_virtual


def test_timers_jump_the_clock_without_waiting():
    clock = ManualClock()

    async def main() -> float:
        await asyncio.sleep(3600)
        return asyncio.get_running_loop().time()

    assert run_virtual(main(), clock) == clock.now >= 3600


def test_waiting_on_a_thread_with_no_timer_blocks_instead_of_polling(monkeypatch):
    # the render and measure threads of an offline run: while one works and no timer is due, the loop
    # used to poll its selector in a loop, a core's worth of CPU taken from the thread it waited for
    calls = []
    select = clock_module._JumpingSelector.select

    def counted(self, timeout=None):
        calls.append(timeout)
        return select(self, timeout)

    monkeypatch.setattr(clock_module._JumpingSelector, "select", counted)
    started, release = threading.Event(), threading.Event()

    def work() -> str:
        started.set()
        release.wait(30)
        return "done"

    async def main() -> str:
        future = asyncio.get_running_loop().run_in_executor(None, work)
        started.wait(30)
        # let the loop wait on the thread for a while (real time: this is what spun), then release it
        threading.Timer(0.3, release.set).start()
        return await future

    clock = ManualClock()
    assert run_virtual(main(), clock) == "done"
    assert len(calls) < 20, f"{len(calls)} selector calls while one thread worked"
    assert clock.now == 0  # no timer: the virtual clock did not move
