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
from navtalk_sweep.runner._runner import Fetcher, MediaUrl, Runner, RunOptions
from navtalk_sweep.runner._schedule import PollSchedule
from navtalk_sweep.runner._source import JobSource, PlanSource
from navtalk_sweep.runner._state import Job, JobState, advance, plan_jobs

__all__ = [
    "BAD_OUTCOMES",
    "EVENT_TYPES",
    "OUTCOMES",
    "CaseFinished",
    "CaseSubmitted",
    "Event",
    "Fetcher",
    "Job",
    "JobSource",
    "JobState",
    "MediaUrl",
    "PlanSource",
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
    "advance",
    "evaluate",
    "event_from_dict",
    "plan_jobs",
]
