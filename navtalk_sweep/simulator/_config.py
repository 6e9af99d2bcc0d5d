"""What the simulator can be told: timing model, fault plan, licences, characters."""

from __future__ import annotations

import json
import operator
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from navtalk_sweep.contract import DEFAULT_CHARACTERS
from navtalk_sweep.errors import InvalidArgument

#: faults that change the HTTP answer of one call (rendered by the app)
HTTP_FAULTS = frozenset({"http_500", "http_502", "http_503", "rate_limit", "drop", "slow", "malformed_json",
                         "html_error"})
#: faults that decide how an accepted task ends
TASK_FAULTS = frozenset({"task_failed", "never_finish", "unknown_status"})
#: a submit refused with a 400 and a message (e.g. "reject character_name X")
REJECT = "reject"
FAULT_KINDS = HTTP_FAULTS | TASK_FAULTS | {REJECT}
#: submit faults after which the task exists all the same (the answer was lost on the way back)
LOST_AFTER_CREATE = frozenset({"http_500", "http_502", "drop", "malformed_json", "html_error"})

_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt,
    "<": operator.lt, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}
_COND = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|not in|in)\s*([^<>=!\s].*?)\s*$")


@dataclass(frozen=True)
class Condition:
    """``field op value`` over a submit body, e.g. ``bbox_shift > 7`` or ``voice in ["onyx"]``."""

    field: str
    op: str
    value: Any

    @classmethod
    def parse(cls, text: str) -> Condition:
        match = _COND.match(text)
        if not match:
            raise InvalidArgument(f"cannot read condition {text!r}: expected 'field op value', "
                                  f"op one of {', '.join(_OPS)}")
        name, op, raw = match.groups()
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw.strip("'\"")
        return cls(name, op, tuple(value) if isinstance(value, list) else value)  # hashable, like the Fault

    def matches(self, body: Mapping[str, Any]) -> bool:
        if self.field not in body:
            return False
        try:
            return bool(_OPS[self.op](body[self.field], self.value))
        except TypeError:
            return False

    def __str__(self) -> str:
        return f"{self.field} {self.op} {json.dumps(self.value)}"


@dataclass(frozen=True)
class Fault:
    """One line of a fault plan: what goes wrong, where, how often."""

    kind: str
    endpoint: Literal["submit", "query", "any"] = "any"
    probability: float = 1.0
    times: int | None = None  # at most this many times
    after: int = 0  # let this many matching calls through first
    when: Condition | None = None
    retry_after: float | None = None  # rate_limit
    delay: float = 5.0  # slow
    status: str = "queued"  # unknown_status
    message: str = "synthesis failed"  # task_failed, reject

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise InvalidArgument(f"unknown fault kind {self.kind!r} (kinds: {', '.join(sorted(FAULT_KINDS))})")
        if self.kind in TASK_FAULTS | {REJECT} and self.endpoint == "query":
            raise InvalidArgument(f"fault {self.kind!r} acts at submit, not on endpoint 'query'")
        if not 0.0 <= self.probability <= 1.0:
            raise InvalidArgument(f"fault probability must be within [0, 1], got {self.probability}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        data = dict(data)
        when = data.pop("when", None)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidArgument(f"unknown fault field(s): {', '.join(sorted(unknown))}")
        return cls(**data, when=Condition.parse(when) if isinstance(when, str) else when)

    def as_dict(self) -> dict[str, Any]:
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["when"] = str(self.when) if self.when else None
        return out


@dataclass(frozen=True)
class Timing:
    """How long a task takes: ``fixed``, ``uniform`` or ``speech`` (grows with speech length).

    The default follows the vendor: 5 to 20 s, longer for longer speech, +-15 % jitter.
    """

    model: Literal["fixed", "uniform", "speech"] = "speech"
    seconds: float = 10.0  # fixed
    low: float = 5.0  # uniform, and the floor of speech
    high: float = 20.0  # uniform, and the ceiling of speech
    base: float = 4.0  # speech: base + per_second * speech seconds
    per_second: float = 1.2
    jitter: float = 0.15
    processing_at: float = 0.3  # fraction of the duration spent in 'started'

    def duration(self, speech_seconds: float, rng: random.Random) -> float:
        if self.model == "fixed":
            return self.seconds
        if self.model == "uniform":
            return rng.uniform(self.low, self.high)
        raw = (self.base + self.per_second * speech_seconds) * rng.uniform(1 - self.jitter, 1 + self.jitter)
        return min(self.high, max(self.low, raw))

    @classmethod
    def parse(cls, text: str) -> Timing:
        """``fixed:2``, ``uniform:5-20`` or ``speech`` (the CLI's short form)."""
        kind, _, arg = text.partition(":")
        try:
            if kind == "fixed":
                return cls(model="fixed", seconds=float(arg))
            if kind == "uniform":
                low, high = (float(x) for x in arg.split("-"))
                return cls(model="uniform", low=low, high=high)
            if kind == "speech" and not arg:
                return cls()
        except ValueError:
            pass
        raise InvalidArgument(f"cannot read timing {text!r}: use fixed:SECONDS, uniform:LOW-HIGH or speech")


@dataclass(frozen=True)
class SimulatorConfig:
    """Everything the simulator's behaviour depends on, apart from the seed and the clock."""

    licenses: frozenset[str] | None = None  # None: any non-empty licence is accepted
    characters: tuple[str, ...] = DEFAULT_CHARACTERS
    timing: Timing = field(default_factory=Timing)
    faults: tuple[Fault, ...] = ()
    unreachable_media: Literal["estimate", "fail"] = "estimate"
    unknown_audio_seconds: float = 5.0
    #: a real rate limit: more submits than this within one second get 429 with Retry-After
    max_submits_per_second: float | None = None
    reject_status: int = 400
    license_status: int = 401
    not_found_status: int = 404
    # -- the service's dialect where the vendor is silent (the contract's defaults first) --
    error_field: Literal["message", "error", "msg", "detail", ""] = "message"  # "": no reason given
    unknown_task: Literal["error", "failed"] = "error"  # "failed": 200 {"status": "failed"}
    missing_voice: Literal["reject", "default"] = "reject"  # "default": speak with alloy
    unknown_names: Literal["reject", "fail_later"] = "reject"  # unknown voice or character
    double_source: Literal["reject", "first_wins"] = "reject"  # two face or speech sources, voice with audio
    data_uri: Literal["strip", "reject"] = "strip"  # a data: prefix on audio_base64
    extra_fields: bool = False  # answers carry fields clients must ignore

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Read a config as JSON/YAML data (the ``--config`` file and the admin endpoint)."""
        data = dict(data)
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise InvalidArgument(f"unknown simulator setting(s): {', '.join(sorted(unknown))}")
        if "licenses" in data and data["licenses"] is not None:
            data["licenses"] = frozenset(data["licenses"])
        if "characters" in data:
            data["characters"] = tuple(data["characters"])
        if isinstance(data.get("timing"), str):
            data["timing"] = Timing.parse(data["timing"])
        elif isinstance(data.get("timing"), Mapping):
            data["timing"] = Timing(**data["timing"])
        if "faults" in data:
            data["faults"] = tuple(f if isinstance(f, Fault) else Fault.from_dict(f) for f in data["faults"])
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidArgument(f"bad simulator setting: {exc}") from None

    def as_dict(self) -> dict[str, Any]:
        return {
            "licenses": "<configured>" if self.licenses is not None else None,
            "characters": list(self.characters),
            "timing": {k: getattr(self.timing, k) for k in self.timing.__dataclass_fields__},
            "faults": [f.as_dict() for f in self.faults],
            "unreachable_media": self.unreachable_media,
            "unknown_audio_seconds": self.unknown_audio_seconds,
            "max_submits_per_second": self.max_submits_per_second,
            "reject_status": self.reject_status,
            "license_status": self.license_status,
            "not_found_status": self.not_found_status,
            **{k: getattr(self, k) for k in ("error_field", "unknown_task", "missing_voice", "unknown_names",
                                             "double_source", "data_uri", "extra_fields")},
        }
