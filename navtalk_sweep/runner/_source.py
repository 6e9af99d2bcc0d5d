"""Where the runner pulls jobs from when they are not all known before the run.

A plan of cases is a list; a search is a :class:`JobSource`: the runner asks it for jobs
as the run goes and tells it how each one ended, so the next ones can learn from them.
The runner's poll schedule, submit rate and budget hold across every source of a run.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol

from navtalk_sweep.record import CaseRecord
from navtalk_sweep.runner._state import Job


class JobSource(Protocol):
    """Jobs asked for one at a time; each is told back once it ends."""

    @property
    def size(self) -> int:
        """The most jobs it may give (for budgets and progress)."""
        ...

    def __aiter__(self) -> AsyncIterator[Job]:
        """The next job when there is one to run (it may wait for told results); ends when it has no more."""
        ...

    def tell(self, job: Job, records: Sequence[CaseRecord], final: bool) -> None:
        """How ``job`` ended; ``final=False``: it did not run to an end (a stop, a budget) and may be resumed."""
        ...
