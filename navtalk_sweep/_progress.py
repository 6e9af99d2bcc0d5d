"""Progress of a run on stderr: one live line on a terminal, plain periodic lines elsewhere (CI)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import TextIO

from navtalk_sweep.runner import CaseFinished, CaseSubmitted, Event, RunStarted, RunStopped, StatusObserved


class Progress:
    """Consumes runner events; shows submitted / processing / done / failed and an ETA.

    The ETA is the cases left over the rate at which cases have finished *since the first one did*: the
    wait for the first (start-up, the first renders, a whole wave of concurrent tasks) is not a
    per-case cost, and counting it made a 1 s run on the virtual clock promise 225 s. No ETA before
    the second case finishes.
    """

    def __init__(self, jobs: int, *, plain: bool, stream: TextIO | None = None, every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.jobs, self.plain, self.every = jobs, plain, every
        self.stream = stream or sys.stderr
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self._first: float | None = None
        self._last = 0.0
        self._processing: set[str] = set()
        self._started = False

    def __call__(self, event: Event) -> None:
        self._started = True
        if isinstance(event, RunStarted):
            self.jobs = event.jobs  # with a search: the most it may run
        elif isinstance(event, CaseSubmitted):
            self.counts["submitted"] += 1
        elif isinstance(event, StatusObserved) and event.status == "processing":
            self._processing.add(event.key)
        elif isinstance(event, CaseFinished):
            self._processing.discard(event.key)
            self.counts["finished"] += 1
            if self._first is None:
                self._first = self.clock()
            for rec in event.records[:1]:
                self.counts["done" if rec.done else "not done"] += 1
        elif isinstance(event, RunStopped):
            self._write(f"stopping: {event.reason}", force=True)
            return
        self._write(self.line())

    def line(self, *, final: bool = False) -> str:
        finished = self.counts["finished"]
        eta = ""
        since = self.clock() - self._first if self._first is not None else 0.0
        if 1 < finished < self.jobs and since > 0 and not final:
            eta = f", ETA {(self.jobs - finished) * since / (finished - 1):.0f} s"
        return (f"[{finished}/{self.jobs}] submitted {self.counts['submitted']}, processing {len(self._processing)}, "
                f"done {self.counts['done']}, not done {self.counts['not done']}{eta}")

    def _write(self, text: str, *, force: bool = False) -> None:
        now = self.clock()
        if self.plain:
            if force or now - self._last >= self.every:
                self._last = now
                print(text, file=self.stream, flush=True)
        elif force or now - self._last >= 0.1:
            self._last = now
            print(f"\r\x1b[2K{text}", end="" if not force else "\n", file=self.stream, flush=True)

    def close(self) -> None:
        if not self._started:
            return  # the run never began (a usage error): nothing to sum up
        if self.plain:
            print(self.line(final=True), file=self.stream, flush=True)
        else:
            print(f"\r\x1b[2K{self.line(final=True)}", file=self.stream, flush=True)
