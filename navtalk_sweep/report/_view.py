"""From a stored run to the numbers a report shows; computed here, not in templates."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from itertools import combinations
from typing import Any

from markupsafe import Markup, escape

from navtalk_sweep.contract import VOICES, Mode
from navtalk_sweep.results import Run

OUTCOME_ORDER = ("passed", "failed", "error", "timeout", "rejected", "skipped")
#: heatmaps for at most this many axis pairs (the most varied axes first)
MAX_HEATMAP_PAIRS = 15


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def axes_of(records: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Parameters that take more than one value in the run, with their sorted values."""
    values: dict[str, set[Any]] = {}
    for rec in records:
        for k, v in (rec.get("params") or {}).items():
            values.setdefault(k, set()).add(v)
    out = {}
    for k, vs in values.items():
        if len(vs) > 1:
            out[k] = sorted(vs, key=lambda v: (isinstance(v, str), v))
    return out


def summary(run: Run) -> dict[str, Any]:
    recs = run.records
    done_times = [r["time_to_done"] for r in recs if r.get("final_status") == "done" and
                  r.get("time_to_done") is not None]
    polled = [r for r in recs if r.get("task_id")]
    outcomes = Counter(r.get("outcome") for r in recs)
    modes = Counter(r.get("mode") for r in recs)
    voices = Counter((r.get("request") or {}).get("voice") for r in recs)
    return {
        "total": len(recs),
        "outcomes": [(o, outcomes.get(o, 0)) for o in OUTCOME_ORDER if outcomes.get(o)],
        "modes": [(m.value, m.label, modes.get(m.value, 0)) for m in Mode],
        "invalid": modes.get(None, 0),
        "voices": [(v, voices[v]) for v in VOICES if voices.get(v)],
        "p50": percentile(done_times, 50), "p90": percentile(done_times, 90), "p99": percentile(done_times, 99),
        "polls_per_task": round(sum(r.get("polls") or 0 for r in polled) / len(polled), 2) if polled else None,
        "retries": sum(r.get("retries") or 0 for r in recs),
        "scenarios": sorted({r.get("scenario") for r in recs if r.get("scenario")}),
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


def heatmap_svg(records: Sequence[dict[str, Any]], x: str, y: str, xs: Sequence[Any], ys: Sequence[Any],
                metric: str) -> Markup:
    """Inline SVG: one cell per (x, y) value pair, coloured by the metric over its cases."""
    cells: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for rec in records:
        p = rec.get("params") or {}
        if x in p and y in p:
            cells.setdefault((p[x], p[y]), []).append(rec)

    def value(group: list[dict[str, Any]]) -> float | None:
        if metric == "pass_rate":
            decided = [r for r in group if r.get("outcome") != "skipped"]
            return sum(r.get("outcome") == "passed" for r in decided) / len(decided) if decided else None
        nums = [r[metric] for r in group if isinstance(r.get(metric), int | float)]
        return sum(nums) / len(nums) if nums else None

    values = {k: value(g) for k, g in cells.items()}
    present = [v for v in values.values() if v is not None]
    low, high = (min(present), max(present)) if present else (0.0, 1.0)
    cw, ch, left, top = 64, 28, 110, 40
    width, height = left + cw * len(xs) + 10, top + ch * len(ys) + 10
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="heatmap" width="{width}" height="{height}" '
             f'role="img" aria-label="{escape(metric)} over {escape(x)} and {escape(y)}">'),
             f'<text x="{left}" y="14" class="axis">{escape(x)} →</text>',
             f'<text x="4" y="{top - 6}" class="axis">{escape(y)} ↓</text>']
    for i, xv in enumerate(xs):
        parts.append(f'<text x="{left + i * cw + cw / 2}" y="{top - 8}" text-anchor="middle">{escape(xv)}</text>')
    for j, yv in enumerate(ys):
        parts.append(f'<text x="{left - 6}" y="{top + j * ch + 18}" text-anchor="end">{escape(yv)}</text>')
        for i, xv in enumerate(xs):
            v = values.get((xv, yv))
            fill = _color(v) if metric == "pass_rate" else _scale(v, low, high)
            label = "–" if v is None else (f"{v:.0%}" if metric == "pass_rate" else f"{v:.1f}")
            n = len(cells.get((xv, yv), []))
            parts.append(f'<g><title>{escape(x)}={escape(xv)} {escape(y)}={escape(yv)}: {label} ({n} cases)</title>'
                         f'<rect x="{left + i * cw}" y="{top + j * ch}" width="{cw - 2}" height="{ch - 2}" '
                         f'fill="{fill}"/><text x="{left + i * cw + cw / 2 - 1}" y="{top + j * ch + 18}" '
                         f'text-anchor="middle">{label}</text></g>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heatmaps(run: Run, axes: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every pair of axes (most varied first, capped) for pass rate, time to done and duration error."""
    names = sorted(axes, key=lambda k: -len(axes[k]))
    recs = []  # derived numbers on copies: the stored run is left as it is
    for r in run.records:
        facts, speech = r.get("facts") or {}, r.get("speech_seconds")
        derived = dict(r)
        if facts.get("duration") is not None:
            derived["video_duration"] = facts["duration"]
            if speech is not None:
                derived["duration_error"] = round(abs(facts["duration"] - speech), 3)
        recs.append(derived)
    metrics = [("pass_rate", "pass rate"), ("time_to_done", "time to done (s)")]
    if any("duration_error" in r for r in recs):
        metrics += [("duration_error", "duration error (s)"), ("video_duration", "video duration (s)")]
    out = []
    for x, y in list(combinations(names, 2))[:MAX_HEATMAP_PAIRS]:
        for metric, title in metrics:
            out.append({"x": x, "y": y, "metric": metric, "title": title,
                        "svg": heatmap_svg(recs, x, y, axes[x], axes[y], metric)})
    return out


def rows(run: Run) -> list[dict[str, Any]]:
    """The compact per-case data the page's script works on."""
    out = []
    for i, r in enumerate(run.records):
        out.append({
            "i": i, "id": r.get("case_id"), "key": r.get("key"), "label": r.get("label"),
            "scenario": r.get("scenario"), "outcome": r.get("outcome"), "mode": r.get("mode"),
            "voice": (r.get("request") or {}).get("voice"), "params": r.get("params") or {},
            "status": r.get("final_status"), "t": r.get("time_to_done"), "polls": r.get("polls"),
            "retries": r.get("retries"), "error": r.get("error"), "task": r.get("task_id"),
            "video": r.get("video") or r.get("video_url"), "request": r.get("request"),
            "history": r.get("status_history") or [], "facts": r.get("facts"), "checks": r.get("checks") or [],
            "review": r.get("review"),
        })
    return out
