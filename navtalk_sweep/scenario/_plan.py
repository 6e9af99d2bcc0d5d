"""From a validated scenario to its cases, lazily: a plan counts, samples and builds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice, product
from typing import Any, Final, overload

from navtalk_sweep.contract import FACE_CONTROLS, Mode, mode_of, request_id
from navtalk_sweep.errors import ContractViolation, ScenarioError
from navtalk_sweep.scenario._grid import Grid, GridTooLarge, Index, Rule
from navtalk_sweep.scenario._model import Choose, Expect, Objective, Sample, Search

#: a random sample larger than this is summed up in proportion, not walked: walking draws and decodes
#: each case (about 5 us: 911,811 took 4.5 s, 100,000 take 0.6 s), and no run takes more than 100,000
#: cases anyway
MAX_SAMPLE_WALK: Final = 100_000

Scalar = int | str

#: the parameters a case can set: which inputs, the voice, and the face controls
PARAMETERS = ("face", "speech", "voice", *FACE_CONTROLS)
MEDIA_SCHEME = "media://"


@dataclass(frozen=True)
class ResolvedFace:
    """A face input as request fields; local files become ``media://`` tokens."""

    fields: Mapping[str, str]
    files: Mapping[str, str] = field(default_factory=dict)  # token -> local path


@dataclass(frozen=True)
class ResolvedSpeech:
    fields: Mapping[str, str]
    is_text: bool
    voice: str | None
    seconds: float
    known_length: bool


@dataclass(frozen=True)
class AxisValue:
    params: tuple[tuple[str, Scalar], ...]

    @property
    def text(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.params) if len(self.params) > 1 else str(self.params[0][1])


class ZippedValues(Sequence[AxisValue]):
    """An axis's values as columns zipped together, built on demand.

    A column may be a ``range``, so a range axis of two billion values costs what a
    short list does: its length, an item and the index of a value are arithmetic.
    """

    def __init__(self, fields: tuple[str, ...], columns: tuple[Sequence[Scalar], ...]) -> None:
        self.fields, self.columns = fields, columns

    def __len__(self) -> int:
        return len(self.columns[0])

    @overload
    def __getitem__(self, i: int) -> AxisValue: ...

    @overload
    def __getitem__(self, i: slice) -> ZippedValues: ...

    def __getitem__(self, i: int | slice) -> AxisValue | ZippedValues:
        if isinstance(i, slice):
            return ZippedValues(self.fields, tuple(c[i] for c in self.columns))
        return AxisValue(tuple((f, c[i]) for f, c in zip(self.fields, self.columns, strict=True)))

    def indexes(self, field_name: str, wanted: AbstractSet[Any]) -> frozenset[int]:
        """Positions whose ``field_name`` is one of ``wanted``, without walking a range."""
        column = self.columns[self.fields.index(field_name)]
        if isinstance(column, range):
            return frozenset(column.index(v) for v in wanted
                             if isinstance(v, int) and not isinstance(v, bool) and v in column)
        return frozenset(i for i, v in enumerate(column) if v in wanted)


@dataclass(frozen=True)
class Axis:
    name: str
    values: Sequence[AxisValue]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self.values[0].params) if self.values else ()


@dataclass(frozen=True, slots=True)
class Case:
    """One request to send, with what it must do and how to name it."""

    scenario: str
    params: Mapping[str, Scalar]
    request: Mapping[str, Any]
    mode: Mode | None
    violation: str | None
    label: str
    case_id: str
    speech_seconds: float
    expect: Expect
    files: Mapping[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    def body(self, license: str, media_url: Any = None) -> dict[str, Any]:
        """The JSON body to submit; ``media_url(token, path)`` turns local files into URLs."""
        body = {"license": license, **self.request}
        for key, value in body.items():
            if isinstance(value, str) and value.startswith(MEDIA_SCHEME):
                if media_url is None:
                    raise ValueError(f"case {self.case_id} sends a local file and the target cannot serve it")
                body[key] = media_url(value, self.files[value])
        return body


def case_id_of(request: Mapping[str, Any]) -> str:
    """Stable id from what a case sends: same request, same id, on every machine."""
    return request_id(request)


@dataclass
class ScenarioPlan:
    """The cases of one scenario, built on demand from the index space."""

    name: str
    axes: tuple[Axis, ...]
    rules: list[Rule]
    defaults: Mapping[str, Scalar]
    include: list[dict[str, Scalar]]
    faces: Mapping[str, ResolvedFace]
    speech: Mapping[str, ResolvedSpeech]
    sample: Sample
    expect: Expect
    tags: tuple[str, ...] = ()
    source: str = ""
    #: a search proposes the face controls from results; its plan lists only the ``include`` cases
    search: Search | None = None
    #: how the report ranks the settings (a search's objective when it searches)
    choose: Choose | None = None
    #: (line, column) of the scenario's ``matrix`` and ``sample`` in its file, for errors found after loading
    where: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    def error(self, message: str, at: str = "matrix") -> ScenarioError:
        """An error about this scenario as a whole, at its ``at`` key's line in the file."""
        line, column = self.where.get(at) or self.where.get("matrix") or (0, 0)
        return ScenarioError(f"scenario '{self.name}': {message}", path=self.source, line=line, column=column)

    @property
    def objective(self) -> Objective | None:
        return self.search or self.choose

    @cached_property
    def grid(self) -> Grid:
        return Grid([len(a.values) for a in self.axes], self.rules)

    def _grid_count(self, pinned: dict[int, int] | None = None) -> int:
        """The grid's count, or this scenario's one-line error where its rules make it uncountable."""
        try:
            return self.grid.count(pinned)
        except GridTooLarge as exc:
            raise self.error(str(exc), "exclude") from None

    @cached_property
    def _pairwise(self) -> list[Index]:
        try:
            return self.grid.pairwise(self.sample.seed)
        except GridTooLarge as exc:
            raise self.error(str(exc), "sample") from None

    def _selected(self) -> Iterator[Index] | list[Index]:
        if self.search is not None:
            return []  # its cases are asked of a study as the run goes
        if self.sample.method == "random":
            assert self.sample.n is not None
            return self.grid.random(self.sample.n, self.sample.seed)
        if self.sample.method == "pairwise":
            return self._pairwise
        return iter(self.grid)

    def searched_most(self) -> int:
        """The most videos a search may pay for: trials x repeats per face x speech x voice (0: no search)."""
        if self.search is None:
            return 0
        return self.search.trials * self.search.repeats * len(self.combinations())

    def count(self) -> int:
        """How many cases the scenario runs, without building them (a search: the most it may run)."""
        if self.search is not None:
            return self.searched_most() + len(self.include)
        if self.sample.method == "pairwise":
            return len(self._pairwise) + len(self.include)
        grid = self._grid_count()
        if self.sample.method == "random":
            assert self.sample.n is not None
            grid = min(self.sample.n, grid)
        return grid + len(self.include)

    def __len__(self) -> int:
        return self.count()

    def __iter__(self) -> Iterator[Case]:
        for idx in self._selected():
            yield self.case(self.assignment(idx))
        for extra in self.include:
            yield self.case(extra)

    def head(self, n: int) -> list[Case]:
        return list(islice(self, n))

    def shard(self, index: int, count: int, offset: int = 0) -> Iterator[Case]:
        """Every ``count``-th case from ``index`` (positions start at ``offset``); only those are built."""
        position = offset
        for idx in self._selected():
            if position % count == index:
                yield self.case(self.assignment(idx))
            position += 1
        for extra in self.include:
            if position % count == index:
                yield self.case(extra)
            position += 1

    def assignment(self, idx: Index) -> dict[str, Scalar]:
        params: dict[str, Scalar] = {}
        for axis, i in zip(self.axes, idx, strict=True):
            params.update(axis.values[i].params)
        return params

    def case(self, params: Mapping[str, Scalar]) -> Case:
        """Build the case for explicit parameters (defaults fill the rest)."""
        merged = {**self.defaults, **params}
        face = self.faces[str(merged["face"])]
        speech = self.speech[str(merged["speech"])]
        request: dict[str, Any] = {**face.fields, **speech.fields}
        # an axis (or include) voice is sent as given; for text, the speech input's own voice
        # is more specific than the scenario's default
        voice = params.get("voice") if "voice" in params else None
        if speech.is_text:
            voice = voice or speech.voice or merged.get("voice")
        if voice is not None:
            request["voice"] = voice
        for control in FACE_CONTROLS:
            if control in merged:
                request[control] = merged[control]
        try:
            mode: Mode | None = mode_of(request)
            violation = None
        except ContractViolation as exc:
            mode, violation = None, str(exc)
        shown = {k: merged[k] for k in self._varying if k in merged}
        if voice is not None and speech.is_text and "voice" not in shown:
            shown = {"voice": voice, **shown}
        head = mode.label if mode else "invalid"
        label = " ".join([head, *(f"{k}={v}" for k, v in shown.items())])
        return Case(
            scenario=self.name,
            params={k: v for k, v in merged.items() if k in PARAMETERS},
            request=request,
            mode=mode,
            violation=violation,
            label=label,
            case_id=case_id_of(request),
            speech_seconds=speech.seconds,
            expect=self.expect,
            files=dict(face.files),
            tags=self.tags,
        )

    @cached_property
    def _varying(self) -> tuple[str, ...]:
        # every matrix field, except input names that never change (they would only add noise)
        names = [f for axis in self.axes for f in axis.fields
                 if len(axis.values) > 1 or f not in ("face", "speech")]
        names += [k for extra in self.include for k in extra if k not in names]
        return tuple(dict.fromkeys(names))

    # -- a search: face-control axes are its space, the others are crossed ----------------

    @cached_property
    def dimensions(self) -> tuple[int, ...]:
        """The axes a search explores: those that set face controls only."""
        return tuple(i for i, a in enumerate(self.axes) if a.fields and set(a.fields) <= set(FACE_CONTROLS))

    def combinations(self) -> list[dict[str, Scalar]]:
        """Each combination of the other axes (faces, speech, voices): a search runs one study for each."""
        crossed = [i for i in range(len(self.axes)) if i not in self.dimensions]
        out = []
        for values in product(*(range(len(self.axes[a].values)) for a in crossed)):
            params: dict[str, Scalar] = {}
            for a, v in zip(crossed, values, strict=True):
                params.update(self.axes[a].values[v].params)
            out.append(params)
        return out

    def index_of(self, params: Mapping[str, Scalar]) -> Index | None:
        """The value indexes of an assignment that sets every axis, or None when a value is on no axis."""
        out = []
        for axis in self.axes:
            wanted = tuple((f, params.get(f)) for f in axis.fields)
            if isinstance(axis.values, ZippedValues):
                hits = set.intersection(*(set(axis.values.indexes(f, {v})) for f, v in wanted))
                found = min(hits) if hits else None
            else:
                found = next((i for i, v in enumerate(axis.values) if v.params == wanted), None)
            if found is None:
                return None
            out.append(found)
        return tuple(out)

    # -- summaries without building every case --------------------------------------

    @cached_property
    def speech_axes(self) -> list[int]:
        """The axes that decide a case's mode and voice: those setting face, speech or voice."""
        return [i for i, a in enumerate(self.axes) if {"face", "speech", "voice"} & set(a.fields)]

    def speech_groups(self) -> Iterator[tuple[dict[str, Scalar], int]]:
        """Each face x speech x voice combination of the grid that survives the rules, with its case count."""
        axes = self.speech_axes
        for values in product(*(range(len(self.axes[a].values)) for a in axes)):
            pinned = dict(zip(axes, values, strict=True))
            n = self._grid_count(pinned)
            if n:
                params: dict[str, Scalar] = {}
                for a, v in pinned.items():
                    params.update(self.axes[a].values[v].params)
                yield params, n

    def summary(self) -> tuple[Counter[int], Counter[str], float]:
        """Cases per mode (0 = breaks the contract), per voice, and total speech seconds.

        Exact, except for a random sample of more than ``MAX_SAMPLE_WALK`` cases: there each group
        counts in proportion to its share of the grid.
        """
        modes: Counter[int] = Counter()
        voices: Counter[str] = Counter()
        seconds = 0.0

        def add(case: Case, n: int) -> None:
            nonlocal seconds
            modes[int(case.mode or 0)] += n
            if "voice" in case.request:
                voices[str(case.request["voice"])] += n
            seconds += case.speech_seconds * n

        available = self._grid_count()
        selected = self.count() - len(self.include)
        if self.search is not None:
            for params in self.combinations():
                add(self.case(params), self.search.trials * self.search.repeats)
        elif self.sample.method == "all" or selected >= available:
            for params, n in self.speech_groups():
                add(self.case(params), n)
        elif selected > MAX_SAMPLE_WALK:
            # a random sample too large to walk: each face x speech x voice group in proportion
            for params, n in self.speech_groups():
                add(self.case(params), round(n * selected / available))
        else:
            # only the axes that decide mode and voice matter: count their values, build one case each
            groups = Counter(tuple(idx[a] for a in self.speech_axes) for idx in self._selected())
            for values, n in groups.items():
                chosen: dict[str, Scalar] = {}
                for a, v in zip(self.speech_axes, values, strict=True):
                    chosen.update(self.axes[a].values[v].params)
                add(self.case(chosen), n)
        for extra in self.include:
            add(self.case(extra), 1)
        return modes, voices, round(seconds, 1)
