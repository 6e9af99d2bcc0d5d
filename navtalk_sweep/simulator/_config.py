"""What the simulator can be told: timing model, fault plan, licences, characters."""

from __future__ import annotations

import json
import operator
import random
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from navtalk_sweep.contract import DEFAULT_CHARACTERS
from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.simulator._faults import FAULT_KINDS, FaultStage, RetryAfter

_OPS: Mapping[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le, ">": operator.gt,
    "<": operator.lt, "in": lambda a, b: a in b, "not in": lambda a, b: a not in b,
}
_COND = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=|>=|<=|>|<|not in|in)\s*([^<>=!\s].*?)\s*$")


def _checked(cls: type, data: Any, where: str) -> dict[str, Any]:
    """``data`` as keyword arguments for dataclass ``cls``, every plain field's type checked.

    Settings come from files and HTTP bodies: a wrong type must be a one-line
    InvalidArgument naming the field, never a TypeError from deep inside.
    """
    if not isinstance(data, Mapping):
        raise InvalidArgument(f"{where} must be a mapping, got {type(data).__name__}")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(map(str, data)) - names)
    if unknown:
        raise InvalidArgument(f"unknown {where} field(s): {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    hints = get_type_hints(cls)
    for key, value in data.items():
        allowed = _plain_types(hints[key])
        if allowed is None:
            continue  # a structured field, converted by the caller
        kinds, choices = allowed
        ok = (value in choices) if choices else (
            isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds))
        if not ok:
            expected = " or ".join(map(repr, choices)) if choices else " or ".join(
                "null" if k is type(None) else k.__name__ for k in kinds)
            raise InvalidArgument(f"{where} field '{key}' must be {expected}, got {value!r}")
    return dict(data)


def _plain_types(hint: Any) -> tuple[tuple[type, ...], tuple[Any, ...]] | None:
    """(types, literal choices) for simple hints; None for anything structured."""
    args = get_args(hint) if get_origin(hint) in (Union, UnionType) else (hint,)
    kinds: list[type] = []
    choices: list[Any] = []
    for arg in args:
        if get_origin(arg) is Literal:
            choices += get_args(arg)
        elif arg is type(None):
            kinds.append(type(None))
        elif arg in (int, str, bool):
            kinds.append(arg)
        elif arg is float:
            kinds += [float, int]
        else:
            return None
    if choices and type(None) in kinds:
        choices.append(None)
    return tuple(kinds), tuple(dict.fromkeys(choices))


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
    retry_after: float | None = None  # rate_limit, rate_limit_date
    delay: float = 5.0  # slow
    status: str = "queued"  # unknown_status
    message: str = "synthesis failed"  # task_failed, reject

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise InvalidArgument(f"unknown fault kind {self.kind!r} (kinds: {', '.join(sorted(FAULT_KINDS))})")
        if FAULT_KINDS[self.kind].stage is not FaultStage.HTTP and self.endpoint == "query":
            raise InvalidArgument(f"fault {self.kind!r} acts at submit, not on endpoint 'query'")
        if not 0.0 <= self.probability <= 1.0:
            raise InvalidArgument(f"fault probability must be within [0, 1], got {self.probability}")
        if self.delay < 0 or self.after < 0 or (self.times is not None and self.times < 0):
            raise InvalidArgument("fault delay, after and times must not be negative")
        if self.retry_after is not None and not 0 <= self.retry_after < 86_400:
            raise InvalidArgument(f"fault retry_after must be 0 to 86400 seconds, got {self.retry_after}")
        if FAULT_KINDS[self.kind].retry_after is RetryAfter.HTTP_DATE and self.retry_after is None:
            raise InvalidArgument(f"fault {self.kind!r} needs retry_after (seconds ahead of now)")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Fault:
        data = _checked(cls, data, "fault")
        when = data.pop("when", None)
        if when is not None and not isinstance(when, str | Condition):
            raise InvalidArgument(f"fault field 'when' must be a condition like 'bbox_shift > 7', got {when!r}")
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

    def __post_init__(self) -> None:
        if self.model not in ("fixed", "uniform", "speech"):
            raise InvalidArgument(f"timing model must be 'fixed', 'uniform' or 'speech', got {self.model!r}")
        numbers = {k: getattr(self, k) for k in ("seconds", "low", "high", "base", "per_second", "jitter")}
        negative = [k for k, v in numbers.items() if v < 0]
        if negative or not 0 <= self.processing_at <= 1 or self.low > self.high or self.jitter >= 1:
            raise InvalidArgument(f"timing out of range: {negative or 'low > high, jitter >= 1 or processing_at'}"
                                  f" ({self.model}: seconds={self.seconds}, low={self.low}, high={self.high})")

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
    #: the most tasks kept; past it the oldest are forgotten (a later query: task not found), as a real
    #: service expires old results, so a long-running mock's memory stays flat
    max_tasks_kept: int = 50_000
    #: replaying a cassette: a request it never recorded is refused (404) or simulated
    replay_unmatched: Literal["refuse", "simulate"] = "refuse"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Read a config as JSON/YAML data (the ``--config`` file and the admin endpoint)."""
        data = _checked(cls, data, "simulator setting")
        for key in ("licenses", "characters"):
            value = data.get(key)
            if value is None:
                if key == "characters" and key in data:
                    raise InvalidArgument("simulator setting 'characters' must be a list of names")
                continue
            if not isinstance(value, list | tuple | set | frozenset) or not all(isinstance(v, str) for v in value):
                raise InvalidArgument(f"simulator setting '{key}' must be a list of strings, got {value!r}")
            data[key] = frozenset(value) if key == "licenses" else tuple(value)
        timing = data.get("timing")
        if isinstance(timing, str):
            data["timing"] = Timing.parse(timing)
        elif isinstance(timing, Mapping):
            data["timing"] = Timing(**_checked(Timing, timing, "timing"))
        elif "timing" in data and not isinstance(timing, Timing):
            raise InvalidArgument(f"simulator setting 'timing' must be text like 'fixed:5' or a mapping, "
                                  f"got {timing!r}")
        if "faults" in data:
            faults = data["faults"]
            if not isinstance(faults, list | tuple):
                raise InvalidArgument(f"simulator setting 'faults' must be a list, got {faults!r}")
            data["faults"] = tuple(f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults)
        return cls(**data)

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
                                             "double_source", "data_uri", "extra_fields", "max_tasks_kept",
                                             "replay_unmatched")},
        }
