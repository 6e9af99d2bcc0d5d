"""The case record: what one case did, as the runner writes it and every later layer reads it.

A :class:`CaseRecord` is one line of ``results.jsonl`` and the payload of a journal's
``CaseFinished`` event. Reuse, merge, compare, JUnit and the report all read it; none
keeps its own list of keys.

:data:`FIELDS` declares, once, what the report shows of a record: name, label, kind and
sort order. A numeric field declared there is a table column with a range filter, a
heatmap measure, and a target of ``expect: {measures: {NAME: {min, max}}}`` in scenario
files, with no other edit. Values of declared fields that are not attributes of the record
(video metrics, say) live in ``CaseRecord.metrics``.

Identity (see ``docs/design.md``): ``case_id`` is the hash of the request a scenario
declares (local files by content digest), the same on every machine and target;
``key`` names one job, ``case_id`` or ``case_id~R`` for repeat R; ``request_id`` is the
hash of the body as sent (local files as the target's URLs), which is what a service or
the simulator can count.
"""

from __future__ import annotations

import enum
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

__all__ = [
    "BAD_OUTCOMES",
    "FIELDS",
    "Better",
    "CaseRecord",
    "Check",
    "Field",
    "Kind",
    "Outcome",
    "StatusAt",
    "numeric_fields",
    "shared",
    "weighted",
]


class Outcome(enum.StrEnum):
    """How a case ended; the order is the report's order."""

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    TIMEOUT = "timeout"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # a budget or a stopped run never ran it: a resume may

    @property
    def bad(self) -> bool:
        """True for the outcomes that make a run fail (exit code 1)."""
        return self in BAD_OUTCOMES


#: outcomes that make a run fail
BAD_OUTCOMES: Final = frozenset({Outcome.FAILED, Outcome.ERROR, Outcome.TIMEOUT, Outcome.REJECTED})


class _Empty(dict[str, Any]):
    """The one empty mapping records share (made empty or read from JSON): a dict (JSON writes it as
    ``{}``) that refuses to be filled, so sharing it cannot leak one record's change into another."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a record's mappings are read-only")

    __setitem__ = __delitem__ = __ior__ = setdefault = update = pop = popitem = clear = _refuse


_EMPTY: Final[Mapping[str, Any]] = _Empty()


def _empty() -> Mapping[str, Any]:
    """A record's mapping that holds nothing: the shared one (64 bytes a field a record, not a new dict)."""
    return _EMPTY


@dataclass(frozen=True, slots=True)
class Check:
    """One expectation and whether the case met it."""

    check: str
    ok: bool
    detail: str

    def __post_init__(self) -> None:
        # most details repeat ("expected done, got done"): one copy for a run, not one a record
        object.__setattr__(self, "check", shared(self.check))
        object.__setattr__(self, "detail", shared(self.detail))

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


class StatusAt(Mapping[str, Any]):
    """A status a task was seen in, and when (seconds after its submit): the mapping
    ``{"status": ..., "t": ...}`` JSON holds, in 48 bytes; a dict of two keys takes 184, and a run of
    50,000 cases holds two or three of these a case."""

    __slots__ = ("status", "t")

    def __init__(self, status: str, t: float) -> None:
        self.status, self.t = sys.intern(status), t

    @classmethod
    def of(cls, seen: Mapping[str, Any]) -> Mapping[str, Any]:
        """``seen`` as read from JSON: compact when it holds what a status holds, else kept as it is."""
        status, t = seen.get("status"), seen.get("t")
        if len(seen) == 2 and isinstance(status, str) and isinstance(t, int | float):
            return cls(status, t)
        return shared(seen)  # type: ignore[no-any-return]

    def __getitem__(self, key: str) -> Any:
        if key == "status":
            return self.status
        if key == "t":
            return self.t
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(("status", "t"))

    def __len__(self) -> int:
        return 2

    def __repr__(self) -> str:
        return repr(dict(self))


@dataclass(frozen=True, slots=True)
class CaseRecord:
    """One case's result. Fields after ``checks`` are written only when they hold something.

    A run of 50,000 cases holds 50,000 of these: slots, not a ``__dict__`` each, and records read
    from JSON share their keys, short strings and empty mappings (:meth:`from_dict`).
    """

    case_id: str
    outcome: Outcome
    key: str = ""
    repeat: int = 1
    scenario: str = ""
    label: str = ""
    tags: tuple[str, ...] = ()
    mode: int | None = None
    params: Mapping[str, Any] = field(default_factory=_empty)
    request: Mapping[str, Any] = field(default_factory=_empty)
    speech_seconds: float | None = None
    task_id: str | None = None
    status_history: tuple[Mapping[str, Any], ...] = ()
    final_status: str | None = None
    video_url: str | None = None
    error: str | None = None
    submit_latency: float | None = None
    time_to_done: float | None = None
    polls: int = 0
    retries: int = 0
    submit_unknown: bool = False
    checks: tuple[Check, ...] = ()
    # -- optional: present when there is something to say --
    request_id: str | None = None
    video: str | None = None
    video_bytes: int | None = None
    facts: Mapping[str, Any] | None = None
    fetch_error: str | None = None
    metrics: Mapping[str, float] = field(default_factory=_empty)
    #: what measuring the video could not do (no face, no sound track...), one line each
    notes: tuple[str, ...] = ()
    #: pictures made from the case, run-relative: ``mouths`` (a strip of the mouth), ``poster``
    images: Mapping[str, str] = field(default_factory=_empty)
    reused_from: str | None = None
    #: a search trial's ``study`` and ``number`` (and ``value``, the objective it was told)
    trial: Mapping[str, Any] | None = None
    review: Mapping[str, Any] | None = None
    #: keys a newer (or older) version wrote that this one does not know: kept, written back
    extra: Mapping[str, Any] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.case_id)

    @property
    def voice(self) -> str | None:
        voice = self.request.get("voice")
        return voice if isinstance(voice, str) else None

    @property
    def done(self) -> bool:
        return self.final_status == "done"

    def value(self, name: str) -> Any:
        """The value of a declared field (or of a parameter) for this record."""
        declared = FIELDS.get(name)
        if declared is not None:
            return declared.value(self)
        return self.params.get(name)

    def replace(self, **changes: Any) -> CaseRecord:
        return replace(self, **changes)

    # -- JSON ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in _ALWAYS:
            out[name] = getattr(self, name)
        out["tags"] = list(self.tags)
        out["params"] = dict(self.params)
        out["request"] = dict(self.request)
        out["status_history"] = [dict(h) for h in self.status_history]
        for name in _OPTIONAL:
            value = getattr(self, name)
            if value is not None and value != {} and value != ():
                out[name] = dict(value) if isinstance(value, Mapping) else list(value) if isinstance(value, tuple) \
                    else value
        out["checks"] = [c.as_dict() for c in self.checks]
        out["outcome"] = self.outcome.value
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CaseRecord:
        """A record from JSON as any version wrote it; raises ValueError naming what is wrong."""
        case_id, outcome = data.get("case_id"), data.get("outcome")
        if not isinstance(case_id, str):
            raise TypeError("record without a str 'case_id'")
        if not isinstance(outcome, str):
            raise TypeError("record without a str 'outcome'")
        try:
            verdict = Outcome(outcome)
        except ValueError:
            raise ValueError(f"record {case_id}: unknown outcome {outcome!r} (one of "
                             f"{', '.join(o.value for o in Outcome)})") from None
        known: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            (known if key in _NAMES else extra)[key] = value
        known["outcome"] = verdict
        if known.get("key") == case_id:
            known["key"] = case_id
        known["tags"] = tuple(shared(t) for t in known.get("tags") or ())
        known["status_history"] = tuple(StatusAt.of(h) if isinstance(h, Mapping) else shared(h)
                                        for h in known.get("status_history") or ())
        known["checks"] = tuple(Check(str(c.get("check")), bool(c.get("ok")), str(c.get("detail")))
                                for c in known.get("checks") or () if isinstance(c, Mapping))
        known["notes"] = tuple(shared(str(n)) for n in known.get("notes") or ())
        for name in ("params", "request", "metrics", "images"):
            known[name] = shared(known.get(name) or _EMPTY)
        if known.get("facts"):
            known["facts"] = shared(known["facts"])
        known.pop("extra", None)
        return cls(**known, extra=extra or _EMPTY)


_NAMES: Final = frozenset(f.name for f in fields(CaseRecord)) - {"extra"}
_ALWAYS: Final = ("case_id", "key", "repeat", "scenario", "label", "tags", "mode", "params", "request",
                  "speech_seconds", "task_id", "status_history", "final_status", "video_url", "error",
                  "submit_latency", "time_to_done", "polls", "retries", "submit_unknown")
_OPTIONAL: Final = ("request_id", "video", "video_bytes", "facts", "fetch_error", "metrics", "notes", "images",
                    "reused_from", "trial", "review")


#: strings up to this length are interned: parameter names and values, statuses, notes, codecs
_SHORT: Final = 100


def shared(value: Any) -> Any:
    """``value`` (parsed JSON, kept read-only) with its keys and short strings interned, so that 50,000
    records read from JSON hold one copy of ``"bbox_shift"``, ``"processing"`` or a note each, not one per
    record (with slots: 5.8 -> 2.6 KB a record); the mock keeps its tasks' requests the same way."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= _SHORT else value
    if isinstance(value, dict):
        if not value:
            return _EMPTY
        return {sys.intern(k) if isinstance(k, str) else k: shared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shared(v) for v in value]
    return value


# -- what the report shows of a record, declared once ------------------------------------------


class Better(enum.StrEnum):
    """Which way a measure improves: what "best" and "regressed" mean for it."""

    HIGHER = "higher"
    LOWER = "lower"


class Kind(enum.StrEnum):
    """How a field is shown, filtered and sorted."""

    TEXT = "text"  # free text: searched, not filtered
    CATEGORY = "category"  # few values: a drop-down filter
    NUMBER = "number"  # a range filter, a heatmap measure, an ``expect`` target


@dataclass(frozen=True)
class Field:
    """One field of a record as the report, heatmaps and ``expect`` see it."""

    name: str
    label: str
    kind: Kind
    #: how to read it; by default the record's attribute of that name, else ``metrics[name]``
    get: Callable[[CaseRecord], Any] | None = None
    #: the values' sort order when it is not their natural one (outcomes)
    order: tuple[str, ...] | None = None
    unit: str = ""
    description: str = ""
    #: which way it improves (None: neither, e.g. an offset or a length)
    better: Better | None = None
    #: the colour scale's ends when the measure has natural ones (a share: 0..1), so noise is not stretched
    scale: tuple[float, float] | None = None
    #: how the measure is computed, counted from 1: a new way of computing it (docs/metrics.md) takes the next
    #: number, and two runs compare it only when they computed it the same way (``revisions``)
    revision: int = 1

    def value(self, record: CaseRecord) -> Any:
        if self.get is not None:
            return self.get(record)
        if self.name in _NAMES:
            return getattr(record, self.name)
        return record.metrics.get(self.name)

    def as_dict(self) -> dict[str, Any]:
        """What the report's script reads."""
        return {"name": self.name, "label": self.label, "kind": self.kind.value, "order": self.order,
                "unit": self.unit, "better": self.better.value if self.better else None}


def _fact(name: str) -> Callable[[CaseRecord], Any]:
    return lambda r: (r.facts or {}).get(name)


def _duration_error(r: CaseRecord) -> float | None:
    duration = (r.facts or {}).get("duration")
    if not isinstance(duration, int | float) or r.speech_seconds is None:
        return None
    return round(abs(duration - r.speech_seconds), 3)


#: the report's columns, filters and measures, in the order shown; parameters (axes) are
#: added per run after ``voice``. Extend by adding an entry (see the module docstring).
FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("label", "case", Kind.TEXT),
    Field("scenario", "scenario", Kind.CATEGORY),
    Field("outcome", "outcome", Kind.CATEGORY, get=lambda r: r.outcome.value, order=tuple(Outcome)),
    Field("mode", "mode", Kind.CATEGORY),
    Field("voice", "voice", Kind.CATEGORY, get=lambda r: r.voice),
    Field("time_to_done", "time to done", Kind.NUMBER, unit="s", better=Better.LOWER,
          description="seconds from submit to the final status"),
    Field("submit_latency", "submit latency", Kind.NUMBER, unit="s", better=Better.LOWER, description="seconds to answer the submit"),
    Field("polls", "polls", Kind.NUMBER, description="status queries for this task"),
    Field("retries", "retries", Kind.NUMBER, better=Better.LOWER, description="submits and polls tried again"),
    Field("video_duration", "video duration", Kind.NUMBER, get=_fact("duration"), unit="s"),
    Field("duration_error", "duration error", Kind.NUMBER, get=_duration_error, unit="s", better=Better.LOWER,
          description="|video duration - speech length|"),
    Field("video_width", "video width", Kind.NUMBER, get=_fact("width"), unit="px"),
    Field("video_height", "video height", Kind.NUMBER, get=_fact("height"), unit="px"),
    Field("video_fps", "video fps", Kind.NUMBER, get=_fact("fps")),
    Field("video_bytes", "video size", Kind.NUMBER, unit="B"),
    # measured in the video (the face extra; docs/metrics.md says how and when not to trust them)
    # revision 2 (fifteenth session): when the mouth opens and closes against when the speech rises and falls
    # counts half (revision 1: how open against how loud alone)
    Field("lip_sync", "lip sync", Kind.NUMBER, better=Better.HIGHER, scale=(0.0, 1.0), revision=2,
          description="how well mouth opening follows the speech loudness, -1..1 (0: not at all)"),
    Field("av_offset", "A/V offset", Kind.NUMBER, unit="s",
          description="seconds the sound lags the mouth at the best match (+: sound late)"),
    Field("mouth_open_median", "mouth open (median)", Kind.NUMBER,
          description="inner-lip gap divided by the outer eye-corner distance, median over frames"),
    Field("mouth_open_p95", "mouth open (p95)", Kind.NUMBER, better=Better.HIGHER,
          description="inner-lip gap divided by the outer eye-corner distance, 95th percentile"),
    Field("region_iou", "region IoU", Kind.NUMBER, better=Better.HIGHER, scale=(0.0, 1.0),
          description="overlap of the region the video changed with the blend region the controls predict, 0..1"),
    Field("mask_line_error", "mask line error", Kind.NUMBER, unit="px",
          description="top of the changed region minus the predicted mask line (+: lower than predicted)"),
    Field("seam", "seam", Kind.NUMBER, better=Better.LOWER,
          description="colour step across the changed region's edge beyond the same step beside it (levels; 0: none)"),
    Field("mouth_sharpness", "mouth sharpness", Kind.NUMBER, better=Better.HIGHER,
          description="detail in the mouth box against the same box of the face that was sent (1: as sharp)"),
    Field("upper_lip_motion", "upper-lip share", Kind.NUMBER, scale=(0.0, 1.0),
          description="the upper lip's share of the lips' motion, 0..1 (0: only the lower lip and jaw move)"),
    Field("outside_drift", "outside drift", Kind.NUMBER, better=Better.LOWER,
          description="mean change outside the changed region, levels 0..255 (codec noise: about 1)"),
    Field("shift_range_low", "bbox_shift from", Kind.NUMBER, unit="px",
          description="MuseTalk's suggested bbox_shift range for this face, low end (-(y30 - y29))"),
    Field("shift_range_high", "bbox_shift to", Kind.NUMBER, unit="px",
          description="MuseTalk's suggested bbox_shift range for this face, high end (y29 - y28)"),
    Field("frozen_seconds", "frozen", Kind.NUMBER, unit="s", better=Better.LOWER,
          description="the longest stretch in which the picture did not change"),
    Field("no_face_frames", "no face", Kind.NUMBER, better=Better.LOWER, scale=(0.0, 1.0), description="share of frames with no face found (black included)"),
    Field("black_frames", "black", Kind.NUMBER, better=Better.LOWER, scale=(0.0, 1.0), description="share of black frames"),
    Field("error", "error", Kind.TEXT),
)}


def weighted(record: CaseRecord, weights: Mapping[str, float]) -> float | None:
    """The weighted sum of a record's declared measures (a search's or ``choose:``'s objective); None when
    the video is not done or a measure has no finite value."""
    if not record.done:
        return None
    total = 0.0
    for name, weight in weights.items():
        value = record.value(name)
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return None
        total += weight * float(value)
    return total


def revisions() -> dict[str, int]:
    """The measures computed otherwise than at first, and how (``Field.revision``): what a run records as
    ``measures`` in its run.json; a measure not named there is at revision 1."""
    return {f.name: f.revision for f in FIELDS.values() if f.revision != 1}


def numeric_fields() -> list[Field]:
    """The declared numeric fields: heatmap measures and ``expect`` targets."""
    return [f for f in FIELDS.values() if f.kind is Kind.NUMBER]
