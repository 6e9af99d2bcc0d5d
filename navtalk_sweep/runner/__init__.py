"""Executing cases against a NavTalk endpoint, reporting everything as events."""

from navtalk_sweep.runner._events import (
    EVENT_TYPES,
    CaseFinished,
    CaseSubmitted,
    Event,
    PollFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    StatusObserved,
    SubmitRetried,
    SubmitStarted,
    event_from_dict,
)
from navtalk_sweep.runner._expect import BAD_OUTCOMES, OUTCOMES, evaluate
from navtalk_sweep.runner._runner import Job, JobState, Runner, RunOptions, plan_jobs
from navtalk_sweep.runner._schedule import PollSchedule

__all__ = [
    "BAD_OUTCOMES",
    "EVENT_TYPES",
    "OUTCOMES",
    "CaseFinished",
    "CaseSubmitted",
    "Event",
    "Job",
    "JobState",
    "PollFailed",
    "PollSchedule",
    "RunFinished",
    "RunOptions",
    "RunStarted",
    "RunStopped",
    "Runner",
    "StatusObserved",
    "SubmitRetried",
    "SubmitStarted",
    "evaluate",
    "event_from_dict",
    "plan_jobs",
]
