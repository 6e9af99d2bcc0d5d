"""The scenario format as frozen pydantic models; the JSON Schema is generated from them."""

from __future__ import annotations

import copy
import difflib
import enum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    StrictInt,
    Tag,
    field_validator,
    model_validator,
)

from navtalk_sweep.record import numeric_fields

#: a parameter value; strict: YAML's ``true`` is not the integer 1
Scalar = StrictInt | str


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Face(_Strict):
    """A named face: exactly one source (two only in deliberate negative tests)."""

    video_url: str | None = Field(None, description="public MP4/MOV address")
    image_url: str | None = Field(None, description="still image address")
    character_name: str | None = Field(None, description="a built-in role such as girl2")
    file: str | None = Field(None, description="local image or video, served to the target")


class Speech(_Strict):
    """Named speech: an audio URL, a local audio file sent as base64, literal base64, or text."""

    audio_url: str | None = Field(None, description="MP3/WAV address")
    audio_file: str | None = Field(None, description="local audio file, sent as base64")
    audio_base64: str | None = Field(None, description="literal base64 of an audio file")
    text: str | None = Field(None, description="text spoken by a voice (TTS)")
    voice: str | None = Field(None, description="voice for this text when no voice axis is given")
    seconds: float | None = Field(None, gt=0, description="known length, when it cannot be measured")


class Inputs(_Strict):
    faces: dict[str, Face] = Field(default_factory=dict)
    speech: dict[str, Speech] = Field(default_factory=dict)


class Range(_Strict):
    """Inclusive integer range: ``{from: -9, to: 9, step: 3}``."""

    start: int = Field(alias="from")
    to: int
    step: int = 1

    @model_validator(mode="after")
    def _check(self) -> Range:
        if self.step <= 0:
            raise ValueError(f"step must be a positive integer, got {self.step}")
        if self.to < self.start:
            raise ValueError(f"'to' ({self.to}) is below 'from' ({self.start})")
        return self

    def values(self) -> range:
        """The values, lazily: a range of any size costs nothing until a value is asked for."""
        return range(self.start, self.to + 1, self.step)


def _list_or_range(value: Any) -> str:
    return "range" if isinstance(value, dict | Range) else "list"


ListOrRange = Annotated[
    Annotated[list[Scalar], Tag("list")] | Annotated[Range, Tag("range")],
    Discriminator(_list_or_range),
]


class Link(_Strict):
    """Fields that move together, zipped: ``{link: {left_cheek_width: [...], right_cheek_width: [...]}}``."""

    link: dict[str, ListOrRange] = Field(min_length=1)


def _axis_kind(value: Any) -> str:
    if isinstance(value, dict | Range | Link):
        return "link" if (isinstance(value, Link) or "link" in value) else "range"
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        return "rows"
    return "list"


Axis = Annotated[
    Annotated[list[Scalar], Tag("list")]
    | Annotated[list[dict[str, Scalar]], Tag("rows")]
    | Annotated[Range, Tag("range")]
    | Annotated[Link, Tag("link")],
    Discriminator(_axis_kind),
]


class Sample(_Strict):
    """Which cases of the grid to run."""

    method: Literal["all", "random", "pairwise"] = "all"
    n: int | None = Field(None, gt=0, description="how many cases (random)")
    seed: int = 0

    @model_validator(mode="after")
    def _check(self) -> Sample:
        if self.method == "random" and self.n is None:
            raise ValueError("sample method 'random' needs n")
        return self


class Bound(_Strict):
    """Inclusive limits on a measure: ``{min: 0.3}``, ``{max: 12}`` or both; ``drop``: how much worse than
    the baseline it may get before ``compare`` and ``--baseline`` call it a regression."""

    min: float | None = None
    max: float | None = None
    drop: float | None = Field(None, ge=0, description="the most the measure may worsen against the baseline")

    @model_validator(mode="after")
    def _check(self) -> Bound:
        if self.min is None and self.max is None and self.drop is None:
            raise ValueError("give min, max, drop or several")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is above max ({self.max:g})")
        return self


def _measure_names() -> list[str]:
    return [f.name for f in numeric_fields()]


class Expect(_Strict):
    """What a case must do to pass."""

    status: Literal["done", "failed"] = "done"
    within: float | None = Field(None, gt=0, description="seconds from submit to final status")
    rejected: bool = Field(False, description="a deliberate negative test: the service must refuse it")
    duration_tolerance: float | None = Field(None, gt=0, description="video length vs speech, seconds")
    min_height: int | None = Field(None, gt=0, description="smallest acceptable video height")
    measures: dict[str, Bound] = Field(
        default_factory=dict, description="limits on declared numeric fields of the record, e.g. "
        "{time_to_done: {max: 12}} (the names: navtalk_sweep.record.FIELDS)",
        json_schema_extra=lambda schema: schema.update(propertyNames={"enum": list[JsonValue](_measure_names())}))

    @field_validator("measures")
    @classmethod
    def _known_measures(cls, value: dict[str, Bound]) -> dict[str, Bound]:
        for name in value:
            _known_measure(name)
        return value


def _known_measure(name: str) -> None:
    names = _measure_names()
    if name not in names:
        hint = difflib.get_close_matches(name, names, n=1)
        raise ValueError(f"unknown measure {name!r}" + (f" (did you mean {hint[0]!r}?)" if hint else
                         f" (measures: {', '.join(names)})"))


class Sampler(enum.StrEnum):
    """Optuna's samplers a search may use (``search.sampler``)."""

    TPE = "tpe"
    CMAES = "cmaes"
    GP = "gp"
    RANDOM = "random"
    GRID = "grid"


class Direction(enum.StrEnum):
    MAXIMIZE = "maximize"
    MINIMIZE = "minimize"


class Objective(_Strict):
    """What "best" means: one declared numeric measure, or a weighted sum of several, and which way."""

    objective: str | None = Field(None, description="a declared numeric measure to optimise, e.g. lip_sync")
    weights: dict[str, float] | None = Field(
        None, description="a weighted sum of declared measures instead, e.g. {lip_sync: 1, seam: -2}",
        json_schema_extra=lambda schema: schema.update(propertyNames={"enum": list[JsonValue](_measure_names())}))
    direction: Direction = Direction.MAXIMIZE

    @model_validator(mode="after")
    def _check_objective(self) -> Objective:
        if (self.objective is None) == (self.weights is None):
            raise ValueError("give an objective (one measure) or weights (several), not both or neither")
        for name in [self.objective] if self.objective else list(self.weights or {}):
            _known_measure(name)
        if self.weights is not None and not self.weights:
            raise ValueError("weights is empty: name at least one measure")
        return self

    @property
    def measures(self) -> dict[str, float]:
        """The objective as weights: one measure is weight 1."""
        return {self.objective: 1.0} if self.objective else dict(self.weights or {})

    def as_dict(self) -> dict[str, Any]:
        return {"weights": self.measures, "direction": self.direction.value}


class Choose(Objective):
    """How the report ranks a grid's settings (its "best settings" panel)."""


class Search(Objective):
    """Propose the face controls from the results so far, instead of running the whole grid.

    The matrix's face-control axes are the search space; faces, speech and voices are
    crossed, one study per combination.
    """

    trials: int = Field(gt=0, le=10_000, description="trials at most per face x speech x voice combination")
    parallel: int = Field(1, gt=0, le=64, description="trials in flight at once")
    sampler: Sampler = Sampler.TPE
    seed: int = 0
    repeats: int = Field(1, gt=0, le=20, description="videos per trial, averaged (the service is not deterministic)")


Rule = dict[str, Scalar | list[Scalar]]


class Scenario(_Strict):
    """One grid of cases."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    inputs: Inputs = Field(default_factory=Inputs)
    defaults: dict[str, Scalar] = Field(default_factory=dict)
    matrix: dict[str, Axis] = Field(default_factory=dict)
    exclude: list[Rule] = Field(default_factory=list)
    include: list[dict[str, Scalar]] = Field(default_factory=list)
    sample: Sample = Field(default_factory=Sample)
    search: Search | None = None
    choose: Choose | None = Field(None, description="how the report ranks this grid's settings (a search ranks "
                                                    "by its own objective)")
    expect: Expect = Field(default_factory=Expect)

    @model_validator(mode="after")
    def _one_way(self) -> Scenario:
        if self.search is not None and self.sample.method != "all":
            raise ValueError(f"a scenario either searches or samples: drop sample ({self.sample.method}) or search")
        return self


class ScenarioFile(_Strict):
    """A file: inputs shared by its scenarios, and the scenarios."""

    inputs: Inputs = Field(default_factory=Inputs)
    scenarios: list[Scenario] = Field(min_length=1)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a scenario file (a list of scenarios, or one scenario alone), for editors."""
    file_schema = ScenarioFile.model_json_schema()
    defs = file_schema.pop("$defs")
    defs["ScenarioFile"] = file_schema
    single = copy.deepcopy(defs["Scenario"])
    single["required"] = [r for r in single.get("required", []) if r != "name"]  # defaults to the file name
    single["title"] = "SingleScenario"
    defs["SingleScenario"] = single
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "navtalk-sweep scenario file",
        "anyOf": [{"$ref": "#/$defs/ScenarioFile"}, {"$ref": "#/$defs/SingleScenario"}],
        "$defs": defs,
    }
