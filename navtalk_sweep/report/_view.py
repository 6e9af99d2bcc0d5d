"""From a stored run to the numbers a report shows; computed here, not in templates."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from itertools import combinations
from typing import Any

from markupsafe import Markup, escape

from navtalk_sweep.contract import FACE_CONTROLS, VOICES, Mode
from navtalk_sweep.record import FIELDS, Better, CaseRecord, Field, Kind, Outcome, numeric_fields, weighted
from navtalk_sweep.report._stats import Estimate, digits_to_separate, estimate, separated
from navtalk_sweep.results import Run

#: heatmaps for at most this many axis pairs (the most varied axes first)
MAX_HEATMAP_PAIRS = 15


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def axes_of(records: Iterable[CaseRecord]) -> dict[str, list[Any]]:
    """Parameters that take more than one value in the run, with their sorted values."""
    values: dict[str, set[Any]] = {}
    for rec in records:
        for k, v in rec.params.items():
            values.setdefault(k, set()).add(v)
    out = {}
    for k, vs in values.items():
        if len(vs) > 1:
            out[k] = sorted(vs, key=lambda v: (isinstance(v, str), v))
    return out


def summary(run: Run) -> dict[str, Any]:
    recs = run.records
    done_times = [r.time_to_done for r in recs if r.done and r.time_to_done is not None]
    polled = [r for r in recs if r.task_id]
    outcomes = Counter(r.outcome for r in recs)
    modes = Counter(r.mode for r in recs)
    voices = Counter(r.voice for r in recs)
    return {
        "total": len(recs),
        "outcomes": [(o.value, outcomes[o]) for o in Outcome if outcomes.get(o)],
        "modes": [(m.value, m.label, modes.get(m.value, 0)) for m in Mode],
        "invalid": modes.get(None, 0),
        "voices": [(v, voices[v]) for v in VOICES if voices.get(v)],
        "p50": percentile(done_times, 50), "p90": percentile(done_times, 90), "p99": percentile(done_times, 99),
        "polls_per_task": round(sum(r.polls for r in polled) / len(polled), 2) if polled else None,
        "retries": sum(r.retries for r in recs),
        "scenarios": sorted({r.scenario for r in recs if r.scenario}),
    }


def _color(rate: float | None) -> str:
    """Red (0) to green (1); grey for no data."""
    if rate is None:
        return "#ddd"
    hue = int(120 * rate)
    return f"hsl({hue},65%,55%)"


def _scale(value: float | None, low: float, high: float) -> str:
    if value is None:
        return "#ddd"
    frac = 0.0 if high <= low else (value - low) / (high - low)
    return f"hsl(210,70%,{int(90 - 55 * frac)}%)"


def _cells(records: Sequence[CaseRecord], x: str, y: str) -> dict[tuple[Any, Any], list[int]]:
    """The records (by index) of each (x, y) value pair."""
    cells: dict[tuple[Any, Any], list[int]] = {}
    for i, rec in enumerate(records):
        p = rec.params
        if x in p and y in p:
            cells.setdefault((p[x], p[y]), []).append(i)
    return cells


def _column(records: Sequence[CaseRecord], measure: Field) -> list[float | None]:
    """A measure's number per record (None: none)."""
    return [float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None
            for v in map(measure.value, records)]


def _repeats(records: Sequence[CaseRecord], column: Sequence[float | None]) -> dict[str, Estimate]:
    """Per request run more than once with a value each time (one case id, several videos): its estimate."""
    values: dict[str, list[float]] = {}
    for rec, v in zip(records, column, strict=True):
        if v is not None:
            values.setdefault(rec.case_id, []).append(v)
    return {case: e for case, g in values.items() if len(g) > 1 and (e := estimate(g)) is not None}


def _noise(records: Sequence[CaseRecord], column: Sequence[float | None]) -> float | None:
    """The median half-width of one request's repeats' 95 % interval; None when no request was repeated."""
    widths = [w for e in _repeats(records, column).values() if (w := e.half_width) is not None]
    return statistics.median(widths) if widths else None


def heatmap_svg(records: Sequence[CaseRecord], x: str, y: str, xs: Sequence[Any], ys: Sequence[Any],
                measure: Field | None) -> Markup:
    """Inline SVG: one cell per (x, y) value pair, coloured by a measure (None: pass rate) over its cases,
    printed to the precision that tells the cells apart, with a legend of its scale and of the noise."""
    column = _column(records, measure) if measure is not None else None
    return _heatmap(records, x, y, xs, ys, measure, _cells(records, x, y), column,
                    _noise(records, column) if column is not None else None)


def _heatmap(records: Sequence[CaseRecord], x: str, y: str, xs: Sequence[Any], ys: Sequence[Any],
             measure: Field | None, cells: dict[tuple[Any, Any], list[int]], column: Sequence[float | None] | None,
             noise: float | None) -> Markup:
    """:func:`heatmap_svg` from what many maps of one report share: each pair's cells, each measure's
    column and noise, computed once (a report draws up to 15 pairs per measure)."""

    def value(group: list[int]) -> float | None:
        if measure is None:
            decided = [records[i] for i in group if records[i].outcome is not Outcome.SKIPPED]
            return sum(r.outcome is Outcome.PASSED for r in decided) / len(decided) if decided else None
        assert column is not None
        nums = [v for i in group if (v := column[i]) is not None]
        return sum(nums) / len(nums) if nums else None

    name = measure.name if measure is not None else "pass_rate"
    values = {k: value(g) for k, g in cells.items()}
    present = [v for v in values.values() if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    note = ""
    digits = 2
    if measure is not None and present:
        assert column is not None
        if measure.scale is not None:  # natural ends: a small spread stays a small change of colour
            low, high = min(low, measure.scale[0]), max(high, measure.scale[1])
        digits = min(3, max(1, digits_to_separate(present)))
        # the noise is the spread of one request's repeats (a cell may also pool other axes' values)
        spread = max(present) - min(present)
        if noise is None:
            note = "one video per cell: differences between cells may be the service's noise (repeat to tell)"
        else:
            note = f"noise between repeats: ±{noise:.{digits}f} (median 95 % interval)"
            if spread <= 2 * noise:
                note += "; every cell is within the noise of the others: treat them as ties"
                mid = (max(present) + min(present)) / 2
                low, high = min(low, mid - 2 * noise), max(high, mid + 2 * noise)
    cw, ch, left, top = 64, 28, 110, 40
    width, height = max(left + cw * len(xs) + 10, 660 if note else 330), top + ch * len(ys) + 56
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(name)} over {escape(x)} and {escape(y)}">'),
             f'<text x="{left}" y="14" class="axis">{escape(x)} →</text>',
             f'<text x="4" y="{top - 6}" class="axis">{escape(y)} ↓</text>']
    for i, xv in enumerate(xs):
        parts.append(f'<text x="{left + i * cw + cw / 2}" y="{top - 8}" text-anchor="middle">{escape(xv)}</text>')
    for j, yv in enumerate(ys):
        parts.append(f'<text x="{left - 6}" y="{top + j * ch + 18}" text-anchor="end">{escape(yv)}</text>')
        for i, xv in enumerate(xs):
            v = values.get((xv, yv))
            fill = _color(v) if measure is None else _scale(v, low, high)
            label = "–" if v is None else (f"{v:.0%}" if measure is None else f"{v:.{digits}f}")
            n = len(cells.get((xv, yv), []))
            parts.append(f'<g><title>{escape(x)}={escape(xv)} {escape(y)}={escape(yv)}: {label} ({n} cases)</title>'
                         f'<rect x="{left + i * cw}" y="{top + j * ch}" width="{cw - 2}" height="{ch - 2}" '
                         f'fill="{fill}"/><text x="{left + i * cw + cw / 2 - 1}" y="{top + j * ch + 18}" '
                         f'text-anchor="middle">{label}</text></g>')
    # the legend: the colour scale's ends (and its unit), so a colour reads as a number
    ly = top + ch * len(ys) + 12
    unit = f" {measure.unit}" if measure is not None and measure.unit else ""
    ends = ("0%", "100%") if measure is None else (f"{low:.{digits}f}{unit}", f"{high:.{digits}f}{unit}")
    steps = 10
    for k in range(steps):
        frac = k / (steps - 1)
        fill = _color(frac) if measure is None else _scale(low + frac * (high - low), low, high)
        parts.append(f'<rect class="legend" x="{left + k * 16}" y="{ly}" width="16" height="10" fill="{fill}"/>')
    parts.append(f'<text x="{left - 6}" y="{ly + 9}" text-anchor="end">{escape(ends[0])}</text>'
                 f'<text x="{left + steps * 16 + 6}" y="{ly + 9}">{escape(ends[1])}</text>')
    if note:
        parts.append(f'<text class="noise" x="4" y="{ly + 28}">{escape(note)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _short(v: float) -> str:
    return f"{v:.1f}" if abs(v) < 1000 else f"{v:.3g}"


def _title(f: Field) -> str:
    return f"{f.label} ({f.unit})" if f.unit else f.label


def measures_of(records: Sequence[CaseRecord]) -> list[Field]:
    """The declared numeric fields that vary in this run (a constant draws no map)."""
    return [f for f in numeric_fields() if _varies(f, records)]


def _varies(f: Field, records: Sequence[CaseRecord]) -> bool:
    first = None
    for v in map(f.value, records):
        if isinstance(v, int | float):
            if first is None:
                first = v
            elif v != first:
                return True  # a second value: no need to read the other 50,000
    return False


def heatmaps(run: Run, axes: dict[str, list[Any]], varying: list[Field] | None = None) -> list[dict[str, Any]]:
    """Every pair of axes (most varied first, capped) for pass rate and each declared measure that varies
    (``varying``: :func:`measures_of` the run's records, when the caller has it)."""
    names = sorted(axes, key=lambda k: -len(axes[k]))
    varying = measures_of(run.records) if varying is None else varying
    failed = {c.check for r in run.records for c in r.checks if not c.ok}  # constant, but why cases failed
    measures: list[Field | None] = [None, *varying, *(f for f in numeric_fields() if f.name in failed
                                                      and f not in varying)]
    records = run.records
    columns = {m.name: _column(records, m) for m in measures if m is not None}
    noise = {name: _noise(records, column) for name, column in columns.items()}
    out = []
    for x, y in list(combinations(names, 2))[:MAX_HEATMAP_PAIRS]:
        cells = _cells(records, x, y)
        for m in measures:
            svg = _heatmap(records, x, y, axes[x], axes[y], m, cells, columns[m.name] if m else None,
                           noise[m.name] if m else None)
            out.append({"x": x, "y": y, "metric": m.name if m else "pass_rate",
                        "title": _title(m) if m else "pass rate", "svg": svg})
    return out


#: numeric columns shown even when every case has the same value
ALWAYS_SHOWN = ("time_to_done", "polls")


def columns(run: Run, axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """The table's columns: declared fields with a value in this run (numbers: that vary), the axes after ``voice``."""
    out = []
    failed = {c.check for r in run.records for c in r.checks if not c.ok}
    for f in FIELDS.values():
        values = {v for v in map(f.value, run.records) if v is not None}
        # a number that is the same for every case says nothing per case (the summary has it), unless a
        # case failed on it: then it is why, and is shown
        shown = (len(values) > 1 or f.name in failed) if f.kind is Kind.NUMBER and f.name not in ALWAYS_SHOWN \
            else bool(values)
        if f.name in ("label", "outcome") or shown:
            out.append(f.as_dict())
        if f.name == "voice":
            out += [{"name": a, "label": a, "kind": Kind.CATEGORY.value, "order": None, "unit": "", "param": True}
                    for a in axes if a != "voice"]
    return out


def intervals(records: Sequence[CaseRecord], names: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per case repeated (one case id, several videos) and numeric column: its mean and 95 % interval over the
    repeats as the table prints it beside each repeat's own value; nothing for a case run once."""
    if len({r.case_id for r in records}) == len(records):
        return {}
    out: dict[str, dict[str, str]] = {}
    for name in names:
        if name not in FIELDS or FIELDS[name].kind is not Kind.NUMBER:
            continue
        found = _repeats(records, _column(records, FIELDS[name]))
        digits = min(3, max(2, digits_to_separate([e.mean for e in found.values()])))
        for case, est in found.items():
            out.setdefault(case, {})[name] = f"{est.text(digits)} (95 %, {est.n} videos)"
    return out


def rows(run: Run, cols: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """The compact per-case data the page's script works on, one case at a time: column values, then what
    the detail shows (``ci``: the case's interval over its repeats, per column, when it was repeated)."""
    declared = [c["name"] for c in cols if not c.get("param")]
    spread = intervals(run.records, declared)
    for i, r in enumerate(run.records):
        yield {
            **({"ci": spread[r.case_id]} if r.case_id in spread else {}),
            "i": i, "id": r.case_id, "key": r.key, "v": {name: r.value(name) for name in declared},
            "params": dict(r.params), "task": r.task_id, "video": r.video or r.video_url,
            "request": dict(r.request), "history": [dict(h) for h in r.status_history], "facts": r.facts,
            "metrics": dict(r.metrics) or None, "checks": [c.as_dict() for c in r.checks], "review": r.review,
            "images": dict(r.images), "notes": list(r.notes),
        }


# -- a search: what each study tried, found and spent ----------------------------------------------


def _objective_text(weights: dict[str, float], direction: str) -> str:
    if len(weights) == 1 and next(iter(weights.values())) == 1:
        return f"{direction} {next(iter(weights))}"
    terms = " ".join(f"{'-' if w < 0 else '+'} {abs(w):g} x {n}" for n, w in weights.items())
    return f"{direction} {terms.removeprefix('+ ')}"


def _setting(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


def search_chart(trials: Sequence[dict[str, Any]], maximize: bool) -> Markup:
    """Inline SVG: each trial's objective (dots; failed trials as crosses on the floor) and the best so far."""
    done = [t for t in trials if isinstance(t.get("value"), int | float)]
    if not done:
        return Markup("<p>No trial has a value yet.</p>")
    values = [float(t["value"]) for t in done]
    low, high = min(values), max(values)
    span = (high - low) or abs(high) or 1.0
    low, high = low - 0.05 * span, high + 0.05 * span
    n = int(max(t["number"] for t in trials)) + 1
    width, height, left, top, bottom = 560, 220, 56, 12, 30
    plot_w, plot_h = width - left - 10, height - top - bottom

    def x(i: float) -> float:
        return left + plot_w * (i + 0.5) / n

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - low) / (high - low))

    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="search-chart" width="{width}" height="{height}" '
              'role="img" aria-label="objective per trial and the best so far">'),
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{y(high - 0.05 * span) + 4:.1f}" text-anchor="end">{_short(max(values))}</text>',
             f'<text x="{left - 4}" y="{y(low + 0.05 * span) + 4:.1f}" text-anchor="end">{_short(min(values))}</text>',
             f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">trial</text>']
    best: float | None = None
    path: list[str] = []
    for t in sorted(trials, key=lambda t: t["number"]):
        v = t.get("value")
        if isinstance(v, int | float):
            best = v if best is None else (max(best, v) if maximize else min(best, v))
            parts.append(f'<circle cx="{x(t["number"]):.1f}" cy="{y(v):.1f}" r="3.5" fill="#1565c0">'
                         f'<title>trial {t["number"]}: {_short(v)} ({escape(_setting(t["params"]))})</title></circle>')
        elif t.get("state") == "fail":
            cx, cy = x(t["number"]), top + plot_h - 5
            parts.append(f'<path d="M{cx - 4:.1f} {cy - 4:.1f}l8 8m0 -8l-8 8" stroke="#c62828" stroke-width="2">'
                         f'<title>trial {t["number"]} failed: {escape(t.get("note") or "")}</title></path>')
        if best is not None:
            path.append(f'{"L" if path else "M"}{x(t["number"]):.1f} {y(best):.1f}')
    if path:
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="#2e7d32" stroke-width="2">'
                     '<title>best so far</title></path>')
    parts.append("</svg>")
    return Markup("".join(parts))


def search_views(run: Run) -> list[dict[str, Any]]:
    """Each study of a search: its trials, the best settings with their videos, importances, videos paid."""
    by_key = {r.key: r for r in run.records}
    out = []
    for study in run.searches:
        maximize = study.get("direction", "maximize") == "maximize"
        trials = [t for t in study.get("trials", []) if isinstance(t, dict) and "number" in t]
        best_so_far: float | None = None
        rows_ = []
        for t in sorted(trials, key=lambda t: t["number"]):
            v = t.get("value")
            if isinstance(v, int | float):
                best_so_far = v if best_so_far is None else (max(best_so_far, v) if maximize else min(best_so_far, v))
            rec = next((by_key[k] for k in t.get("keys", []) if k in by_key), None)
            rows_.append({"number": t["number"], "state": t.get("state"), "value": v, "best": best_so_far,
                          "setting": _setting(t.get("params", {})), "note": t.get("note") or "",
                          "video": rec.video or rec.video_url if rec is not None else None,
                          "elsewhere": not t.get("mine", True)})
        ranked: dict[str, dict[str, Any]] = {}
        for row in sorted((r for r in rows_ if isinstance(r["value"], int | float)),
                          key=lambda r: -r["value"] if maximize else r["value"]):
            ranked.setdefault(row["setting"], row)
        grid = int(study.get("grid_size") or 0) * int(study.get("repeats") or 1)
        paid = int(study.get("paid") or 0)
        importances = study.get("importances") or {}
        out.append({
            "study": study.get("study", "?"), "objective": _objective_text(study.get("objective", {}),
                                                                          study.get("direction", "maximize")),
            "sampler": study.get("sampler"), "trials": rows_, "best": list(ranked.values())[:3],
            "chart": search_chart(trials, maximize), "paid": paid, "grid": grid,
            "share": f"{paid / grid:.0%}" if grid else "?",
            "importances": sorted(importances.items(), key=lambda kv: -kv[1]),
            "importances_note": study.get("importances_note"), "repeats": int(study.get("repeats") or 1),
        })
    return out


# -- the best settings of a grid: ranked, with their intervals, and whether the first is really first -----


def _verdict(first: Estimate, second: Estimate | None, direction: str) -> str:
    if second is None:
        return "the only setting with a value"
    apart = separated(first, second)
    if apart is None:
        return "one video per setting: whether #1 beats #2 or only the service's noise cannot be told; repeat to " \
               "separate (repeat: 3)"
    if apart:
        return f"#1 is better than #2 beyond the noise (95 %, {first.n} and {second.n} videos)"
    return "#1 and #2 are within the noise of each other: a tie; more repeats may separate them"


_SERVICE_MEASURES = frozenset({"time_to_done", "submit_latency", "retries", "polls", "duration_error"})


def best_panels(run: Run, varying: list[Field] | None = None) -> list[dict[str, Any]]:
    """Per scenario and face x speech x voice: the top settings of the face controls by the scenario's
    objective (``choose:`` or its search's), else one panel per measure that has a better direction
    (``varying``: as for :func:`heatmaps`)."""
    chosen: dict[str, Any] = run.meta.get("choose") or {}
    # per scenario and the rest of the parameters: each face setting's records (named once, not per objective)
    groups: dict[tuple[str, str], dict[str, list[CaseRecord]]] = {}
    for rec in run.records:
        rest = " ".join(f"{k}={v}" for k, v in rec.params.items() if k not in FACE_CONTROLS)
        setting = " ".join(f"{k}={v}" for k, v in rec.params.items() if k in FACE_CONTROLS) or "(defaults)"
        groups.setdefault((rec.scenario, rest), {}).setdefault(setting, []).append(rec)
    better = [f for f in (measures_of(run.records) if varying is None else varying) if f.better is not None]
    out = []
    for (scenario, rest), recs in groups.items():
        if len(recs) < 2:
            continue  # nothing to choose between
        spec = chosen.get(scenario)
        if isinstance(spec, dict) and spec.get("weights"):
            objectives = [(_objective_text(spec["weights"], spec.get("direction", "maximize")), spec["weights"],
                           spec.get("direction", "maximize"), "declared")]
        else:
            # the video's measures first: the service's timings say little of a face setting
            ordered = sorted(better, key=lambda f: f.name in _SERVICE_MEASURES)
            objectives = [(_title(f), {f.name: 1.0}, "maximize" if f.better is Better.HIGHER else "minimize", f.name)
                          for f in ordered]
        for title, weights, direction, key in objectives:
            panel = _ranked(recs, weights, direction)
            if panel:
                out.append({"scenario": scenario, "group": rest, "objective": title, "key": key, **panel})
    return out


def _ranked(by_setting: dict[str, list[CaseRecord]], weights: dict[str, float],
            direction: str) -> dict[str, Any] | None:
    ranked = []
    for setting, recs in by_setting.items():
        values = [v for r in recs if (v := weighted(r, weights)) is not None]
        est = estimate(values)
        if est is not None:
            video = next((r.video or r.video_url for r in recs if r.video or r.video_url), None)
            ranked.append((setting, est, video, len(recs)))
    if not ranked:
        return None
    ranked.sort(key=lambda t: -t[1].mean if direction == "maximize" else t[1].mean)
    digits = min(3, max(2, digits_to_separate([t[1].mean for t in ranked[:3]])))
    top = [{"setting": s, "value": e.text(digits), "n": e.n, "video": v, "low": e.low, "high": e.high}
           for s, e, v, _ in ranked[:3]]
    return {"top": top, "settings": len(ranked),
            "verdict": _verdict(ranked[0][1], ranked[1][1] if len(ranked) > 1 else None, direction)}
