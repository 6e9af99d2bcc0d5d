"""Progress of a run on stderr: one live line on a terminal, plain periodic lines elsewhere (CI)."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from navtalk_sweep.runner import CaseFinished, CaseSubmitted, Event, RunStarted, RunStopped, StatusObserved


class Progress:
    """Consumes runner events; shows submitted / processing / done / failed and an ETA."""

    def __init__(self, jobs: int, *, plain: bool, stream: TextIO | None = None, every: float = 5.0) -> None:
        self.jobs, self.plain, self.every = jobs, plain, every
        self.stream = stream or sys.stderr
        self.counts: Counter[str] = Counter()
        self.started = time.monotonic()
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
            for rec in event.records[:1]:
                self.counts["done" if rec.done else "not done"] += 1
        elif isinstance(event, RunStopped):
            self._write(f"stopping: {event.reason}", force=True)
            return
        self._write(self.line())

    def line(self, *, final: bool = False) -> str:
        finished = self.counts["finished"]
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0 < finished < self.jobs and not final:
            eta = f", ETA {elapsed / finished * (self.jobs - finished):.0f} s"
        return (f"[{finished}/{self.jobs}] submitted {self.counts['submitted']}, processing {len(self._processing)}, "
                f"done {self.counts['done']}, not done {self.counts['not done']}{eta}")

    def _write(self, text: str, *, force: bool = False) -> None:
        now = time.monotonic()
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
