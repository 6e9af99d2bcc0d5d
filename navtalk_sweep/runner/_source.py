"""Where the runner pulls jobs from when they are not all known before the run.

Every run pulls its jobs from sources: a plan known up front (:class:`PlanSource`: grid, random,
pairwise) gives them all at once; a search asks for them as the run goes and learns from how each
one ended, which the runner tells every source.
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


class PlanSource:
    """A plan known before the run (a grid, a random sample, pairwise cases) as a source: every job at
    once, in plan order; what it is told changes nothing."""

    def __init__(self, jobs: Sequence[Job]) -> None:
        self.jobs = jobs

    @property
    def size(self) -> int:
        return len(self.jobs)

    async def __aiter__(self) -> AsyncIterator[Job]:
        for job in self.jobs:
            yield job

    def tell(self, job: Job, records: Sequence[CaseRecord], final: bool) -> None:
        pass
