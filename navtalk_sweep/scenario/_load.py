"""Load scenario files: parse with positions, validate once, resolve inputs, build plans."""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from navtalk_sweep.contract import FACE_CONTROLS, VOICES, estimate_text_seconds
from navtalk_sweep.errors import ScenarioError
from navtalk_sweep.media import audio_seconds, sniff
from navtalk_sweep.scenario import _model as m
from navtalk_sweep.scenario._grid import Rule
from navtalk_sweep.scenario._plan import (
    MEDIA_SCHEME,
    PARAMETERS,
    Axis,
    AxisValue,
    ResolvedFace,
    ResolvedSpeech,
    ScenarioPlan,
    ZippedValues,
)
from navtalk_sweep.scenario._yaml import SourceMap, load_yaml

Scalar = int | str
Loc = tuple[str | int, ...]

VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".webm", ".mkv"})
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"})
#: length assumed for an audio URL nobody can measure (the vendor's examples are short)
UNKNOWN_AUDIO_SECONDS = 5.0

_ALL_NAMES = sorted(
    {
        *m.ScenarioFile.model_fields,
        *m.Scenario.model_fields,
        *m.Face.model_fields,
        *m.Speech.model_fields,
        *m.Inputs.model_fields,
        *m.Sample.model_fields,
        *m.Search.model_fields,
        *m.Choose.model_fields,
        *m.Expect.model_fields,
        "from",
        "to",
        "step",
        "link",
        *PARAMETERS,
    }
)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass
class LoadedFile:
    path: str
    plans: list[ScenarioPlan]
    warnings: list[str] = field(default_factory=list)


def _data_path(data: Any, loc: tuple[Any, ...]) -> Loc:
    """Drop pydantic's union tags from ``loc`` so it follows the data."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and part < len(node)):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and part == "start" and "from" in node:
            out.append("from")
            node = node["from"]
    return tuple(out)


def _named(loc: Loc) -> str:
    """The field a location names, with its indexes: ``("matrix", "bbox_shift", 0)`` -> ``bbox_shift[0]``."""
    names = [i for i, part in enumerate(loc) if isinstance(part, str)]
    if not names:
        return "file" if not loc else "".join(f"[{p}]" for p in loc)
    last = names[-1]
    return str(loc[last]) + "".join(f"[{p}]" for p in loc[last + 1 :])


def _validation_error(exc: ValidationError, data: Any, smap: SourceMap, prefix: Loc) -> ScenarioError:
    err = exc.errors()[0]
    loc = _data_path(data, err["loc"])
    full = (*prefix, *loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        return smap.error(full, f"unknown field '{name}'{did_you_mean(name, _ALL_NAMES)}", key=True)
    if kind == "missing":
        name = str(err["loc"][-1])
        return smap.error(full, f"missing field '{name}'")
    where = _named(loc)
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
        return smap.error(full, f"{where}: {message}")
    got = err.get("input")
    shown = f", got {got!r}" if not isinstance(got, dict | list) else ""
    return smap.error(full, f"{where}: {message[0].lower()}{message[1:]}{shown}")


def _read_bytes(path: Path, smap: SourceMap, loc: Loc) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise smap.error(loc, f"cannot read {path}: {exc.strerror or exc}") from None


@cache
def _file_facts(path: str, mtime: float) -> tuple[str, str, float | None]:
    data = Path(path).read_bytes()
    return hashlib.sha256(data).hexdigest(), base64.b64encode(data).decode("ascii"), audio_seconds(data)


class _Builder:
    """Turns one validated scenario into a plan, checking what pydantic cannot."""

    def __init__(self, smap: SourceMap, base: Path, loc: Loc, shared: m.Inputs) -> None:
        self.smap, self.base, self.loc = smap, base, loc
        self.shared = shared
        self.warnings: list[str] = []

    def err(self, loc: Loc, message: str, *, key: bool = False) -> ScenarioError:
        return self.smap.error((*self.loc, *loc), message, key=key)

    def _local(self, name: str, loc: Loc) -> Path:
        path = (self.base / name).resolve()
        if path.is_dir():
            raise self.err(loc, f"{name} is a directory: name a file in it")
        if not path.is_file():
            raise self.err(loc, f"file not found: {name} (paths are relative to the scenario file)")
        if path.stat().st_size == 0:
            raise self.err(loc, f"{name} is empty (0 bytes): nothing to send")
        return path

    def _looks_like(self, path: Path, name: str, kinds: tuple[str, ...], loc: Loc) -> None:
        """A local file whose bytes are not what its name says (random bytes named .jpg) is refused here,
        not sent and "passed"."""
        with path.open("rb") as fh:
            found = sniff(fh.read(16))
        if found not in kinds:
            article = {"image": "an image", "video": "a video", "audio": "audio"}
            said = f"those of {article[found]}" if found else "no image, video or audio this tool knows"
            raise self.err(loc, f"{name} is not {' or '.join(article[k] for k in kinds)}: its first bytes are {said}")

    def face(self, name: str, face: m.Face, loc: Loc) -> ResolvedFace:
        fields = {k: v for k, v in face.model_dump(exclude={"file"}).items() if v}
        files: dict[str, str] = {}
        if face.file:
            path = self._local(face.file, (*loc, "file"))
            suffix = path.suffix.lower()
            kind = "video_url" if suffix in VIDEO_SUFFIXES else "image_url" if suffix in IMAGE_SUFFIXES else None
            if kind is None:
                raise self.err((*loc, "file"), f"face file must be a video or an image, got '{suffix}'")
            self._looks_like(path, face.file, ("video",) if kind == "video_url" else ("image",), (*loc, "file"))
            digest = _file_facts(str(path), path.stat().st_mtime)[0]
            token = f"{MEDIA_SCHEME}{digest[:16]}/{path.name}"
            fields[kind] = token
            files[token] = str(path)
        if not fields:
            raise self.err(loc, f"face '{name}' has no source: give video_url, image_url, character_name or file")
        return ResolvedFace(fields, files)

    def speech(self, name: str, sp: m.Speech, loc: Loc) -> ResolvedSpeech:
        sources = [k for k in ("audio_url", "audio_file", "audio_base64", "text") if getattr(sp, k)]
        if len(sources) != 1:
            found = ", ".join(sources) or "none"
            raise self.err(loc, f"speech '{name}' needs exactly one of audio_url, audio_file, "
                                f"audio_base64, text (found {found})")
        if sp.voice is not None and not sp.text:
            raise self.err((*loc, "voice"), f"speech '{name}': voice is only for text")
        if sp.voice is not None and sp.voice not in VOICES:
            raise self.err((*loc, "voice"), f"unknown voice '{sp.voice}'{did_you_mean(sp.voice, VOICES)}"
                                            f" (voices: {', '.join(VOICES)})")
        source = sources[0]
        if source == "text":
            assert sp.text is not None
            return ResolvedSpeech({"content": sp.text}, True, sp.voice, sp.seconds or estimate_text_seconds(sp.text),
                                  True)
        if source == "audio_url":
            assert sp.audio_url is not None
            return ResolvedSpeech({"audio_url": sp.audio_url}, False, None, sp.seconds or UNKNOWN_AUDIO_SECONDS,
                                  sp.seconds is not None)
        if source == "audio_file":
            assert sp.audio_file is not None
            path = self._local(sp.audio_file, (*loc, "audio_file"))
            self._looks_like(path, sp.audio_file, ("audio", "video"), (*loc, "audio_file"))  # m4a: ISO media
            _, b64, seconds = _file_facts(str(path), path.stat().st_mtime)
        else:
            b64 = sp.audio_base64 or ""
            try:
                seconds = audio_seconds(base64.b64decode(b64.split(",", 1)[-1], validate=True))
            except (binascii.Error, ValueError):
                raise self.err((*loc, "audio_base64"), "audio_base64 is not valid base64") from None
        known = sp.seconds or seconds
        return ResolvedSpeech({"audio_base64": b64}, False, None, known or UNKNOWN_AUDIO_SECONDS, known is not None)

    def check_value(self, param: str, value: Scalar, loc: Loc, faces: Mapping[str, Any],
                    speech: Mapping[str, Any], outside: list[str]) -> None:
        if param == "face" or param == "speech":
            known = faces if param == "face" else speech
            if value not in known:
                hint = did_you_mean(str(value), known) or f" (known: {', '.join(known) or 'none'})"
                raise self.err(loc, f"unknown {param} input '{value}'{hint}")
        elif param == "voice":
            if value not in VOICES:
                raise self.err(loc, f"unknown voice '{value}'{did_you_mean(str(value), VOICES)}"
                                    f" (voices: {', '.join(VOICES)})")
        elif param in FACE_CONTROLS:
            control = FACE_CONTROLS[param]
            problem = control.check_type(value)
            if problem:
                raise self.err(loc, problem)
            if control.outside_suggestion(value):
                outside.append(f"{param}={value}")
        else:
            raise self.err(loc, f"unknown parameter '{param}'{did_you_mean(param, PARAMETERS)}"
                                f" (parameters: {', '.join(PARAMETERS)})", key=True)

    def axis(self, name: str, spec: Any, check: Any) -> Axis:
        loc: Loc = ("matrix", name)

        def column(field_name: str, values: Any, where: Loc) -> Sequence[Scalar]:
            """One field's values; a range is checked at its ends and never listed."""
            if isinstance(values, m.Range):
                col = values.values()
                for v in dict.fromkeys((col[0], col[-1])):
                    check(field_name, v, where)
                return col
            for i, v in enumerate(values):
                check(field_name, v, (*where, i))
            return tuple(values)

        if isinstance(spec, m.Link):
            columns = {f: column(f, values, (*loc, "link", f)) for f, values in spec.link.items()}
            lengths = {k: len(v) for k, v in columns.items()}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{k}: {n}" for k, n in lengths.items())
                raise self.err((*loc, "link"), f"linked fields need the same number of values ({shown})")
            return Axis(name, ZippedValues(tuple(columns), tuple(columns.values())))
        if not spec:
            raise self.err(loc, f"axis '{name}' has no values")
        if not isinstance(spec, m.Range) and isinstance(spec[0], dict):
            rows_: list[AxisValue] = []
            for i, row in enumerate(spec):
                for k, v in row.items():
                    check(k, v, (*loc, i, k))
                rows_.append(AxisValue(tuple(row.items())))
            return Axis(name, tuple(rows_))
        if name not in PARAMETERS:
            hint = did_you_mean(name, PARAMETERS)
            if hint:
                raise self.err(loc, f"unknown field '{name}'{hint}", key=True)
            raise self.err(loc, f"unknown axis '{name}': a list axis is one of {', '.join(PARAMETERS)}; "
                                "use 'link' or a list of mappings to move fields together", key=True)
        return Axis(name, ZippedValues((name,), (column(name, spec, loc),)))

    def rule(self, rule: Mapping[str, Any], axes: tuple[Axis, ...], defaults: Mapping[str, Scalar], loc: Loc,
             check: Any) -> Rule | None:
        out: Rule = {}
        for key, wanted in rule.items():
            wanted_set = set(wanted) if isinstance(wanted, list) else {wanted}
            for v in wanted_set:
                check(key, v, (*loc, key))
            for a, axis in enumerate(axes):
                if key in axis.fields:
                    if isinstance(axis.values, ZippedValues):
                        allowed = axis.values.indexes(key, wanted_set)
                    else:
                        allowed = frozenset(i for i, v in enumerate(axis.values) if dict(v.params)[key] in wanted_set)
                    out[a] = out[a] & allowed if a in out else allowed
                    break
            else:
                if defaults.get(key) not in wanted_set:
                    return None  # the constant value never matches: the rule removes nothing
        return out

    def build(self, sc: m.Scenario) -> ScenarioPlan:
        face_specs = {**self.shared.faces, **sc.inputs.faces}
        speech_specs = {**self.shared.speech, **sc.inputs.speech}

        def input_loc(kind: str, name: str) -> Loc:
            own = name in (sc.inputs.faces if kind == "faces" else sc.inputs.speech)
            return ("inputs", kind, name) if own else ("__shared__", kind, name)

        faces = {n: self.face(n, f, input_loc("faces", n)) for n, f in face_specs.items()}
        speech = {n: self.speech(n, s, input_loc("speech", n)) for n, s in speech_specs.items()}
        outside: list[str] = []

        def check(param: str, value: Scalar, loc: Loc) -> None:
            self.check_value(param, value, loc, faces, speech, outside)

        defaults = dict(sc.defaults)
        for k, v in defaults.items():
            check(k, v, ("defaults", k))
        axes = tuple(self.axis(n, spec, check) for n, spec in sc.matrix.items())
        on_axes = {f for a in axes for f in a.fields}
        for kind, known in (("face", faces), ("speech", speech)):
            if kind not in on_axes and kind not in defaults:
                if len(known) != 1:
                    raise self.err(("matrix",), f"no {kind} chosen: add a '{kind}' axis to matrix or "
                                                f"defaults.{kind} ({len(known)} {kind} inputs declared)")
                defaults[kind] = next(iter(known))
        rules = [r for i, rule in enumerate(sc.exclude)
                 if (r := self.rule(rule, axes, defaults, ("exclude", i), check)) is not None]
        for i, extra in enumerate(sc.include):
            for k, v in extra.items():
                check(k, v, ("include", i, k))
        plan = ScenarioPlan(sc.name, axes, rules, defaults, [dict(x) for x in sc.include], faces, speech,
                            sc.sample, sc.expect, tuple(sc.tags), self.smap.path, sc.search, sc.choose,
                            {k: self.smap.position((*self.loc, k), key=True) for k in ("matrix", "sample", "exclude")
                             if k in sc.model_fields_set})
        self._check_contract(plan)
        if outside:
            shown = ", ".join(dict.fromkeys(outside))
            line, col = self.smap.position((*self.loc, "matrix"))
            self.warnings.append(f"{self.smap.path}:{line}:{col}: warning: scenario '{sc.name}': values outside "
                                 f"the suggested ranges (allowed, sent as given): {shown}")
        return plan

    def _check_contract(self, plan: ScenarioPlan) -> None:
        """Every face x speech x voice combination must fit a mode, unless the scenario expects rejection."""
        if plan.expect.rejected:
            return
        for params, _ in plan.speech_groups():
            case = plan.case(params)
            if case.violation:
                where = ("matrix", plan.axes[plan.speech_axes[0]].name) if plan.speech_axes else ("inputs",)
                combo = " ".join(f"{k}={v}" for k, v in params.items()) or "the defaults"
                raise self.err(where, f"case {combo} breaks the contract: {case.violation}; exclude it, or set "
                                      f"expect.rejected: true for a deliberate negative test")
        for i, extra in enumerate(plan.include):
            case = plan.case(extra)
            if case.violation:
                raise self.err(("include", i), f"included case breaks the contract: {case.violation}")


def load_text(text: str, path: str = "<string>", *, base: Path | None = None) -> LoadedFile:
    """Load scenarios from YAML text; raises ScenarioError with ``path:line:col``."""
    data, smap = load_yaml(text, path)
    if not isinstance(data, dict):
        raise smap.error((), f"expected a mapping at the top of the file, got {type(data).__name__}")
    prefix: Loc = ()
    if "scenarios" not in data:
        data = {**data}
        data.setdefault("name", Path(path).name.split(".")[0])
        data = {"scenarios": [data]}
        smap.values = {("scenarios", 0, *k): v for k, v in smap.values.items()}
        smap.keys = {("scenarios", 0, *k): v for k, v in smap.keys.items()}
    try:
        parsed = m.ScenarioFile.model_validate(data)
    except ValidationError as exc:
        raise _validation_error(exc, data, smap, prefix) from None
    # positions of the file-level inputs, for errors about shared inputs
    for key, pos in list(smap.values.items()):
        if key[:1] == ("inputs",):
            for i in range(len(parsed.scenarios)):
                smap.values.setdefault(("scenarios", i, "__shared__", *key[1:]), pos)
    base = base or Path(path).parent
    loaded = LoadedFile(path, [])
    seen: dict[str, int] = {}
    for i, sc in enumerate(parsed.scenarios):
        if sc.name in seen:
            raise smap.error(("scenarios", i, "name"), f"duplicate scenario name '{sc.name}'")
        seen[sc.name] = i
        builder = _Builder(smap, base, ("scenarios", i), parsed.inputs)
        loaded.plans.append(builder.build(sc))
        loaded.warnings += builder.warnings
    return loaded


def load_path(path: str | os.PathLike[str]) -> LoadedFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError("no such file", path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read: {exc}", path=str(path)) from None
    return load_text(text, str(path), base=p.parent)


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files named, with directories expanded to their ``*.yaml``/``*.yml`` files, sorted."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix in (".yaml", ".yml") and q.is_file())
        else:
            out.append(p)
    return out


def load_scenarios(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[ScenarioPlan], list[str]]:
    """Every plan of every file (directories expanded), and the warnings; names must be unique."""
    plans: list[ScenarioPlan] = []
    warnings: list[str] = []
    names: dict[str, str] = {}
    files = scenario_files(paths)
    if not files:
        raise ScenarioError("no scenario files found", path=", ".join(map(str, paths)) or ".")
    seen: set[Path] = set()
    for f in files:
        if Path(f).resolve() in seen:  # named twice (or by name and in its folder): one file, loaded once
            continue
        seen.add(Path(f).resolve())
        loaded = load_path(f)
        for plan in loaded.plans:
            if plan.name in names:
                raise ScenarioError(f"scenario '{plan.name}' is also defined in {names[plan.name]}", path=str(f))
            names[plan.name] = str(f)
        plans += loaded.plans
        warnings += loaded.warnings
    return plans, warnings
