"""The report while a run goes: rewritten from the journal as cases finish, at most so often."""

from __future__ import annotations

import math
import time
from pathlib import Path

from navtalk_sweep.errors import NavTalkSweepError
from navtalk_sweep.report._html import write_html
from navtalk_sweep.results import Run, RunDirectory

__all__ = ["LiveReport"]


class LiveReport:
    """Rewrites report.html from the journal while a run goes, at most every ``every`` wall seconds.

    Wall time, not the run's clock: on the virtual clock a whole run takes a second and is only
    reported at its end. A failure to render is not the run's failure: the final report says it.
    A page grows with the run, and so does the time to write it: the next rewrite waits at least
    ``SHARE_INVERSE`` times as long as the last one took, so rewriting costs at most a fifth of the
    run (a 5,000-case run on the virtual clock rewrote a page of seconds every 10 s: most of its time).
    """

    #: wait at least this many times the last rewrite's own duration before the next
    SHARE_INVERSE = 4.0

    def __init__(self, run_dir: Path, *, every: float) -> None:
        self.run_dir, self.every = run_dir, every
        self._last = time.monotonic()
        self._wait = every

    def finished(self) -> None:
        now = time.monotonic()
        if now - self._last < self._wait:
            return
        try:  # from the journal (the truth so far; a resumed run's results.jsonl is the last process's)
            directory = RunDirectory(self.run_dir)
            records = [r for recs in directory.replayed().records.values() for r in recs]
            # the page reloads as often as it is rewritten (a second at least)
            write_html(Run(self.run_dir, directory.read_meta().to_dict(), records),
                       refresh=max(1, math.ceil(self.every)))
        except (OSError, ValueError, NavTalkSweepError):
            pass
        self._last = time.monotonic()
        self._wait = max(self.every, self.SHARE_INVERSE * (self._last - now))
