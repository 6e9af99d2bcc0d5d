"""One job's state and the one function that moves it: the runner and resume both call :func:`advance`.

The runner applies each event it emits to its job's state through :func:`advance`;
resuming a run replays the journal's events through the same function. So what a
resumed job knows is exactly what the running job knew when it wrote its last line.

The one thing not journaled: polls that saw no new status (a line per poll would
cost more than it tells). A resumed job's poll count restarts from its last status
change; every other field is exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from navtalk_sweep.record import StatusAt
from navtalk_sweep.runner._events import (
    CaseFinished,
    CaseSubmitted,
    Event,
    PollFailed,
    StatusObserved,
    SubmitRetried,
    SubmitStarted,
)
from navtalk_sweep.scenario import Case


@dataclass(slots=True)
class JobState:
    """What is known of one job (one distinct request, one repeat)."""

    submitting: bool = False  # a submit may have left: after this, a task may exist
    task_id: str | None = None
    submitted_at: float | None = None
    latency: float | None = None
    history: list[StatusAt] = field(default_factory=list)
    polls: int = 0
    retries: int = 0
    finished: bool = False

    @property
    def last_status(self) -> str | None:
        return self.history[-1]["status"] if self.history else None


def advance(state: JobState, event: Event) -> None:
    """Apply one event of this job to its state: the transition function of a job."""
    if isinstance(event, SubmitStarted):
        state.submitting = True
    elif isinstance(event, CaseSubmitted):
        state.task_id, state.latency = event.task_id, event.latency
        state.submitted_at = event.t - event.latency
    elif isinstance(event, StatusObserved):
        at = event.t - (state.submitted_at if state.submitted_at is not None else event.t)
        state.history.append(StatusAt(event.status, round(at, 3)))
        state.polls = event.polls
    elif isinstance(event, SubmitRetried):
        state.retries += 1
    elif isinstance(event, PollFailed):
        state.retries += 1
        state.polls += 1
    elif isinstance(event, CaseFinished):
        state.finished = event.final
        if not event.final and state.task_id is None:
            # a job ends early without a task only when its submit was refused or never sent
            state.submitting = False


@dataclass(slots=True)
class Job:
    """One distinct request, once per repeat: what is paid for once."""

    key: str
    cases: list[Case]
    repeat: int
    state: JobState = field(default_factory=JobState)
    #: record fields every record of this job carries (a search trial's study and number)
    annotations: dict[str, Any] = field(default_factory=dict)

    @property
    def case(self) -> Case:
        return self.cases[0]


def plan_jobs(cases: Sequence[Case], repeat: int = 1) -> list[Job]:
    """Group identical requests (same case id) into one job per repeat, in plan order."""
    by_id: dict[str, list[Case]] = {}
    for case in cases:
        by_id.setdefault(case.case_id, []).append(case)
    jobs = []
    for r in range(repeat):
        for case_id, group in by_id.items():
            jobs.append(Job(case_id if repeat == 1 else f"{case_id}~{r + 1}", group, r + 1))
    return jobs
