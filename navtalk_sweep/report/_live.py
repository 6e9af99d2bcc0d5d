"""The report while a run goes: rewritten from the records of the cases that finished, at most so often."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from navtalk_sweep.errors import NavTalkSweepError
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.report._html import write_html
from navtalk_sweep.results import Run, RunDirectory

__all__ = ["LiveReport"]


class LiveReport:
    """Rewrites report.html while a run goes, at most every ``every`` wall seconds.

    It is told each job's records as the job finishes (``earlier``: what a resumed run's journal
    already held), and keeps references to them: the journal is not read again for every rewrite
    (at 50,000 cases that was a second copy of every record, and seconds of CPU each time).

    Wall time, not the run's clock: on the virtual clock a whole run takes a second and is only
    reported at its end. A failure to render is not the run's failure: the final report says it.
    A page grows with the run, and so does the time to write it: the next rewrite waits at least
    ``SHARE_INVERSE`` times as long as the last one took, so rewriting costs at most a tenth of the
    run (a 5,000-case run on the virtual clock rewrote a page of seconds every 10 s: most of its time).
    """

    #: wait at least this many times the last rewrite's own duration before the next
    SHARE_INVERSE = 9.0

    def __init__(self, run_dir: Path, *, every: float,
                 earlier: Mapping[str, Sequence[CaseRecord]] | None = None) -> None:
        self.run_dir, self.every = run_dir, every
        self._records: dict[str, Sequence[CaseRecord]] = dict(earlier or {})
        self._last = time.monotonic()
        self._wait = every

    def finished(self, key: str, records: Sequence[CaseRecord]) -> None:
        self._records[key] = records
        now = time.monotonic()
        if now - self._last < self._wait:
            return
        try:
            meta = RunDirectory(self.run_dir).read_meta().to_dict()
            records = [r for recs in self._records.values() for r in recs]
            # the page reloads as often as it is rewritten (a second at least)
            write_html(Run(self.run_dir, meta, records), refresh=max(1, math.ceil(self.every)))
        except (OSError, ValueError, NavTalkSweepError):
            pass
        self._last = time.monotonic()
        self._wait = max(self.every, self.SHARE_INVERSE * (self._last - now))
