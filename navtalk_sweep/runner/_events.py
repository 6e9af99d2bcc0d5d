"""What the runner reports, in the past tense; reporters and the journal consume these."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from navtalk_sweep.record import CaseRecord


@dataclass(frozen=True)
class Event:
    t: float

    @property
    def kind(self) -> str:
        return type(self).__name__

    def as_dict(self) -> dict[str, Any]:
        # the fields as they are: a journal line is written at once, so no deep copy (asdict's) is needed,
        # and one per event was a few per cent of a big run's CPU
        return {"event": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class RunStarted(Event):
    jobs: int
    cases: int


@dataclass(frozen=True)
class SubmitStarted(Event):
    """Written before the request leaves: after this the task may exist."""

    key: str
    attempt: int


@dataclass(frozen=True)
class SubmitRetried(Event):
    """The previous attempt surely created no task (refused connection, HTTP 429)."""

    key: str
    reason: str
    wait: float


@dataclass(frozen=True)
class CaseSubmitted(Event):
    key: str
    task_id: str
    latency: float


@dataclass(frozen=True)
class StatusObserved(Event):
    key: str
    status: str
    polls: int


@dataclass(frozen=True)
class PollFailed(Event):
    key: str
    error: str
    wait: float


@dataclass(frozen=True)
class CaseFinished(Event):
    """A case's record; ``final`` is False when the run stopped before the case could end."""

    key: str
    records: list[CaseRecord] = field(default_factory=list)
    final: bool = True

    def as_dict(self) -> dict[str, Any]:
        return {"event": self.kind, "t": self.t, "key": self.key, "records": [r.to_dict() for r in self.records],
                "final": self.final}


@dataclass(frozen=True)
class RunStopped(Event):
    reason: str


@dataclass(frozen=True)
class RunFinished(Event):
    outcomes: dict[str, int]


EVENT_TYPES: dict[str, type[Event]] = {
    c.__name__: c
    for c in (RunStarted, SubmitStarted, SubmitRetried, CaseSubmitted, StatusObserved, PollFailed, CaseFinished,
              RunStopped, RunFinished)
}


def event_from_dict(data: dict[str, Any]) -> Event:
    """An event from its journal line; raises KeyError, TypeError or ValueError on a line it cannot read."""
    data = dict(data)
    cls = EVENT_TYPES[data.pop("event")]
    if cls is CaseFinished:
        data["records"] = [CaseRecord.from_dict(r) for r in data.get("records") or ()]
    return cls(**data)
