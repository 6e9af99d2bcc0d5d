"""``navtalk-sweep preview``: contact sheets of what the face controls select, before paying for a run."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from navtalk_sweep.contract import FACE_CONTROLS
from navtalk_sweep.errors import UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def _values(text: str) -> tuple[str, list[Any]]:
    """``bbox_shift=-9,0,9`` -> ("bbox_shift", [-9, 0, 9]); a bare name takes the scenario's values."""
    name, _, raw = text.partition("=")
    control = FACE_CONTROLS.get(name)
    if control is None:
        raise UsageError(f"--rows/--columns: {name!r} is not a face control (one of {', '.join(FACE_CONTROLS)})")
    if not raw:
        return name, []
    values: list[Any] = []
    for item in raw.split(","):
        if control.choices is not None:
            value: Any = item.strip()
        else:
            try:
                value = int(item)
            except ValueError:
                raise UsageError(f"--rows/--columns: {name} takes integers, got {item!r}") from None
        problem = control.check_type(value)
        if problem:
            raise UsageError(f"--rows/--columns: {problem}")
        values.append(value)
    return name, values


def _faces_of(files: list[str]) -> Iterable[tuple[str, str, list[Mapping[str, Any]]]]:
    """(scenario, local face file, face-control values of each case) for every local face in the scenarios."""
    from navtalk_sweep.session import load_plan

    plan = load_plan(files)  # at most a run's cases (session.MAX_CASES): a typo in a range is refused here too
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for case in plan.cases:
        for field in ("image_url", "video_url"):
            token = case.request.get(field)
            if isinstance(token, str) and token in case.files:
                controls = {k: case.request.get(k) for k in FACE_CONTROLS if case.request.get(k) is not None}
                groups.setdefault((case.scenario, case.files[token]), []).append(controls)
    for (scenario, path), cases in groups.items():
        yield scenario, path, cases


def _axes(cases: list[Mapping[str, Any]], rows: tuple[str, list[Any]] | None,
          columns: tuple[str, list[Any]] | None) -> tuple[tuple[str, list[Any]], tuple[str, list[Any]]]:
    """The sheet's two axes: as asked, else the first two controls the cases vary (then bbox_shift, extra_margin)."""
    seen: dict[str, set[Any]] = {}
    for c in cases:
        for k, v in c.items():
            seen.setdefault(k, set()).add(v)
    varying = [k for k in FACE_CONTROLS if len(seen.get(k, ())) > 1]
    fallback = [k for k in ("bbox_shift", "extra_margin", "left_cheek_width") if k not in varying]
    names = varying + fallback

    def pick(asked: tuple[str, list[Any]] | None, avoid: str | None) -> tuple[str, list[Any]]:
        name = asked[0] if asked else next(n for n in names if n != avoid)
        values = (asked[1] if asked else []) or sorted(seen.get(name, ()), key=str) or [FACE_CONTROLS[name].default]
        if all(isinstance(v, int) for v in values):
            values = sorted(values)
        return name, values

    first = pick(rows, columns[0] if columns else None)
    return first, pick(columns, first[0])


def _grid(cases: list[Mapping[str, Any]], rows: tuple[str, list[Any]], columns: tuple[str, list[Any]]) -> Any:
    """Cells at each (row, column) value: a case's own controls where one has them (linked axes stay
    linked), else the first case's controls with the two values set."""
    from dataclasses import replace

    from navtalk_sweep.analysis.face import Controls

    base = Controls.of(cases[0]) if cases else Controls()
    grid = []
    for rv in rows[1]:
        line = []
        for cv in columns[1]:
            hit = next((c for c in cases if c.get(rows[0]) == rv and c.get(columns[0]) == cv), None)
            controls = Controls.of(hit) if hit else replace(base, **{rows[0]: rv, columns[0]: cv})
            line.append((f"{rows[0]} {rv} | {columns[0]} {cv}", controls))
        grid.append(line)
    return grid


def _sheet(path: str, grid: Any, out: Path) -> tuple[str, list[str]]:
    """Draw one sheet; returns why it could not be drawn (or ''), and each cell's warnings."""
    from navtalk_sweep.analysis._io import read_face
    from navtalk_sweep.analysis.face import detect_face
    from navtalk_sweep.analysis.preview import contact_sheet, read, write_png

    frames = read_face(Path(path).read_bytes(), limit=1)  # a video face: its first frame, not the whole clip
    if not frames:
        return f"{path}: not an image or video this machine can read", []
    face = detect_face(frames[0])
    if face is None:
        return f"{path}: no face found (a clear frontal face is needed to draw the controls)", []
    write_png(out, contact_sheet(frames[0], face, grid))
    low, high = face.suggested_shift
    said = [f"  MuseTalk's suggested bbox_shift for this face: {low}..{high}"]
    for line in grid:
        for text, controls in line:
            reading = read(face, controls)
            said.append(f"  {text}: {reading.text()}" + "".join(f"; WARNING {w}" for w in reading.warnings))
    return "", said


def cmd_preview(args: argparse.Namespace) -> int:
    from navtalk_sweep import analysis

    if not analysis.available():
        raise UsageError("preview needs the face extra: pip install 'navtalk-sweep[face]'")
    rows = _values(args.rows) if args.rows else None
    columns = _values(args.columns) if args.columns else None
    if args.image:
        jobs: list[tuple[str, str, list[Mapping[str, Any]]]] = [("image", args.image, [])]
        if not Path(args.image).is_file():
            raise UsageError(f"--image {args.image}: no such file")
    else:
        if not args.files:
            raise UsageError("preview needs scenario files or --image FILE")
        jobs = list(_faces_of(args.files))
        if not jobs:
            raise UsageError("no local face files in these scenarios (previews need faces this machine can read: "
                             "inputs.faces with file:)")
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    for scenario, path, cases in jobs:
        sheet_rows, sheet_cols = _axes(cases, rows, columns)
        digest = hashlib.sha256(path.encode()).hexdigest()[:6]
        # the axes in the name: previews of one face along other controls do not overwrite each other
        out = out_dir / f"preview-{scenario}-{Path(path).stem}-{sheet_rows[0]}-x-{sheet_cols[0]}-{digest}.png"
        problem, said = _sheet(path, _grid(cases, sheet_rows, sheet_cols), out)
        if problem:
            failed += 1
            print(f"skipped: {problem}")
        else:
            print(f"{out}  ({sheet_rows[0]} {len(sheet_rows[1])} rows x {sheet_cols[0]} {len(sheet_cols[1])} columns)")
            print("\n".join(said))
    return EXIT_FAILED if failed else EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("preview", help="contact sheets of what face controls select on a face (no network)")
    p.add_argument("files", nargs="*", metavar="FILE", help="scenario files (their local faces and control values)")
    p.add_argument("--image", metavar="FILE", help="a face image or video instead of scenarios")
    p.add_argument("--rows", metavar="CONTROL[=V,V...]", help="the rows' face control (default: the first varied)")
    p.add_argument("--columns", metavar="CONTROL[=V,V...]", help="the columns' face control")
    p.add_argument("-o", "--output", default="previews", metavar="DIR", help="where the PNGs go (default previews/)")
    p.set_defaults(func=cmd_preview)
