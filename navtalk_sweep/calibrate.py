"""Fit the simulator to finished runs (calibrate), and say where a new run departs from recorded ones (drift).

Record the runs to calibrate from with an early first poll (``run --record
--first-poll-quantile 0.05``): adaptive polling's first poll comes late on purpose, so most
tasks are first seen already done, which hides when they ended.

Timing: the simulator's ``speech`` model, ``clamp((base + per_second x speech) x U(1-j, 1+j),
low, high)``. Each task's duration is taken from its recorded polls when a cassette is there
(the midpoint between the last poll that saw it unfinished and the one that saw it done),
else its time to done less half the run's dense poll interval (the mean detection lag).
``base`` and ``per_second`` are a least-squares line through the unclamped durations, ``j``
the spread of their ratios to that line (a uniform's half-width is sqrt(3) x its standard
deviation), ``low``/``high`` the 1st and 99th percentiles. Failures and HTTP faults become
probabilities in the fault plan; 429s with Retry-After keep its median.
"""

from __future__ import annotations

import math
import os
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from navtalk_sweep.cassette import CASSETTE, Exchange, read_cassette
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.results import load_run
from navtalk_sweep.simulator import Fault, SimulatorConfig, Timing

__all__ = ["BANDS", "Calibration", "Drift", "calibrate", "drift", "quantile"]

#: speech-length bands (seconds) the fit is judged and drift is looked for in
BANDS: tuple[tuple[float, float], ...] = ((0, 3), (3, 6), (6, 10), (10, math.inf))


def quantile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated quantile, q in 0..1."""
    s = sorted(values)
    if not s:
        return math.nan
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class _Observed:
    durations: list[tuple[float, float]] = field(default_factory=list)  # (speech seconds, duration)
    finished: Counter[str] = field(default_factory=Counter)  # done / failed
    exchanges: list[Exchange] = field(default_factory=list)
    statuses: set[str] = field(default_factory=set)
    errors: set[str] = field(default_factory=set)
    unrecorded: list[Path] = field(default_factory=list)  # runs without a cassette: their HTTP answers unknown


def _band(speech: float) -> tuple[float, float]:
    return next(b for b in BANDS if b[0] <= speech < b[1])


def _error_shape(text: str) -> str:
    """An error message with its particulars (ids, numbers, quoted values) folded, to compare shapes."""
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27,}", "<id>", text)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "<value>", text)
    return re.sub(r"\d+(\.\d+)?", "<n>", text)


def _observe(run_dirs: Iterable[str | os.PathLike[str]]) -> _Observed:
    out = _Observed()
    for run_dir in map(Path, run_dirs):
        run = load_run(run_dir)
        lag = float((run.meta.get("options") or {}).get("dense_interval", 1.5)) / 2
        cassette = read_cassette(run_dir / CASSETTE) if (run_dir / CASSETTE).is_file() else []
        if not (run_dir / CASSETTE).is_file():
            out.unrecorded.append(run_dir)
        out.exchanges += cassette
        polls: dict[str, list[Exchange]] = {}
        for ex in cassette:
            if ex.endpoint == "query_status" and ex.task_id and ex.status == 200:
                polls.setdefault(ex.task_id, []).append(ex)
        for rec in run.records:
            out.statuses.update(h.get("status", "") for h in rec.status_history)
            if rec.error:
                out.errors.add(_error_shape(rec.error))
            if rec.final_status in ("done", "failed"):
                out.finished[rec.final_status] += 1
            if rec.final_status == "done" and rec.time_to_done is not None and rec.speech_seconds is not None:
                out.durations.append((rec.speech_seconds, _duration(rec, polls.get(rec.task_id or ""), lag)))
    return out


def _duration(rec: CaseRecord, polls: list[Exchange] | None, lag: float) -> float:
    assert rec.time_to_done is not None
    if polls:
        polls = sorted(polls, key=lambda e: e.t)
        done = next((i for i, e in enumerate(polls) if '"done"' in e.body), None)
        if done is not None:
            if done == 0:  # done at the first poll: when it ended is unknown, take the mean lag
                return max(0.0, polls[0].t - lag)
            return (polls[done - 1].t + polls[done].t) / 2
    return max(0.0, rec.time_to_done - lag)


def _fit_timing(points: list[tuple[float, float]]) -> Timing:
    durations = [d for _, d in points]
    low, high = quantile(durations, 0.01), quantile(durations, 0.99)
    # the line is fitted where no clamp cuts the spread: speech lengths (in 0.5 s bins) none of whose
    # tasks sits at a clamp, else the clamped side of their jitter would pull the line
    bins: dict[float, list[tuple[float, float]]] = {}
    for s, d in points:
        bins.setdefault(round(s * 2) / 2, []).append((s, d))
    inner = [p for group in bins.values() if all(low * 1.03 < d < high * 0.97 for _, d in group) for p in group]
    if len({round(s * 2) for s, _ in inner}) < 2:
        inner = [(s, d) for s, d in points if low * 1.03 < d < high * 0.97] or points
    n = len(inner)
    mx, my = sum(s for s, _ in inner) / n, sum(d for _, d in inner) / n
    var = sum((s - mx) ** 2 for s, _ in inner)
    slope = sum((s - mx) * (d - my) for s, d in inner) / var if var > 0 else 0.0
    base = my - slope * mx
    ratios = [d / (base + slope * s) for s, d in inner if base + slope * s > 0]
    mean = sum(ratios) / len(ratios)
    sd = math.sqrt(sum((r - mean) ** 2 for r in ratios) / max(1, len(ratios) - 1))
    jitter = min(0.9, math.sqrt(3) * sd)
    return Timing(model="speech", base=round(max(0.0, base), 3), per_second=round(max(0.0, slope), 3),
                  jitter=round(jitter, 3), low=round(low, 2), high=round(max(high, low), 2))


def _fit_faults(obs: _Observed) -> list[Fault]:
    faults = []
    done, failed = obs.finished["done"], obs.finished["failed"]
    if failed:
        faults.append(Fault("task_failed", probability=round(failed / (done + failed), 4)))
    ends: tuple[tuple[str, Literal["submit", "query"]], ...] = (("generate", "submit"), ("query_status", "query"))
    for endpoint, name in ends:
        calls = [e for e in obs.exchanges if e.endpoint == endpoint]
        if not calls:
            continue
        kinds: Counter[str] = Counter()
        waits: list[float] = []
        for e in calls:
            kind = _kind(e)
            if kind:
                kinds[kind] += 1
                if kind == "rate_limit" and "retry-after" in e.headers:
                    try:
                        waits.append(float(e.headers["retry-after"]))
                    except ValueError:
                        pass
        for kind, n in sorted(kinds.items()):
            retry = round(quantile(waits, 0.5), 2) if kind == "rate_limit" and waits else None
            faults.append(Fault(kind, endpoint=name, probability=round(n / len(calls), 4), retry_after=retry))
    return faults


def _kind(e: Exchange) -> str | None:
    """The fault kind an exchange looks like, or None for a normal answer."""
    if e.status is None:
        return "drop"
    if e.status == 429:
        return "rate_limit"
    if e.status in (500, 502, 503, 504):
        return "html_error" if "html" in e.headers.get("content-type", "") else f"http_{e.status}"
    if e.status == 200 and e.body and not e.body.lstrip().startswith("{"):
        return "malformed_json"
    if e.status == 200 and e.body.startswith("{") and not e.body.rstrip().endswith("}"):
        return "malformed_json"
    return None


@dataclass
class Calibration:
    config: SimulatorConfig
    tasks: int
    table: list[dict[str, Any]]  # per band: n, recorded and simulated median and 95th percentile

    def profile_yaml(self) -> str:
        """The profile for ``navtalk-sweep mock --config``, the fit's goodness as comments."""
        import yaml

        data = self.config.as_dict()
        data.pop("licenses", None)
        data["faults"] = [{k: v for k, v in f.items() if v is not None and k != "when"}
                          for f in data["faults"]]
        lines = [f"# navtalk-sweep calibrate: {self.tasks} finished task(s)",
                 "# time to done per speech-length band, recorded vs this profile simulated (quantile-quantile):",
                 "#   band        n     p50 rec  p50 sim   p95 rec  p95 sim"]
        for row in self.table:
            lines.append(f"#   {row['band']:<10} {row['n']:>5}  {row['p50_recorded']:>7.2f}  {row['p50_simulated']:>7.2f}"
                         f"  {row['p95_recorded']:>8.2f}  {row['p95_simulated']:>7.2f}")
        return "\n".join(lines) + "\n" + yaml.safe_dump(data, sort_keys=False)


def calibrate(run_dirs: Iterable[str | os.PathLike[str]], *, seed: int = 0) -> Calibration:
    """Fit simulator settings to finished runs (their cassettes when recorded)."""
    obs = _observe(run_dirs)
    if len(obs.durations) < 10:
        raise ValueError(f"calibrate needs at least 10 finished tasks, found {len(obs.durations)}")
    timing = _fit_timing(obs.durations)
    config = SimulatorConfig(timing=timing, faults=tuple(_fit_faults(obs)))
    rng = random.Random(seed)
    table = []
    for band in BANDS:
        points = [(s, d) for s, d in obs.durations if _band(s) == band]
        if not points:
            continue
        simulated = [timing.duration(s, rng) for s, _ in points for _ in range(20)]
        recorded = [d for _, d in points]
        table.append({"band": f"{band[0]:g}-{band[1]:g} s", "n": len(points),
                      "p50_recorded": quantile(recorded, 0.5), "p50_simulated": quantile(simulated, 0.5),
                      "p95_recorded": quantile(recorded, 0.95), "p95_simulated": quantile(simulated, 0.95)})
    return Calibration(config, len(obs.durations), table)


@dataclass
class Drift:
    items: list[str]
    notes: list[str] = field(default_factory=list)  # what could not be compared, and why

    @property
    def drifted(self) -> bool:
        return bool(self.items)


def drift(recorded: Iterable[str | os.PathLike[str]], new: str | os.PathLike[str], *, slack: float = 0.2) -> Drift:
    """Where ``new`` departs from ``recorded``: status values and error shapes never seen, times to done outside
    the recorded spread (its 5th-95th percentiles widened by ``slack``) per speech-length band."""
    old, now = _observe(recorded), _observe([new])
    items = [f"status never recorded: {s!r}" for s in sorted(now.statuses - old.statuses)]
    items += [f"error shape never recorded: {e}" for e in sorted(now.errors - old.errors)]
    notes = []
    if old.unrecorded or now.unrecorded:
        # a run without a cassette says nothing of the HTTP answers it saw: every answer of the other side
        # would read "never recorded"
        notes.append("HTTP answers not compared: " + ", ".join(map(str, old.unrecorded + now.unrecorded)) +
                     f" {'has' if len(old.unrecorded + now.unrecorded) == 1 else 'have'} no cassette (run with "
                     "--record to keep them); statuses, errors and times to done are compared")
    else:
        old_codes = {(e.endpoint, e.status) for e in old.exchanges}
        items += [f"HTTP answer never recorded: {ep} -> {code if code is not None else 'dropped connection'}"
                  for ep, code in sorted({(e.endpoint, e.status) for e in now.exchanges} - old_codes, key=str)]
    for band in BANDS:
        was = [d for s, d in old.durations if _band(s) == band]
        got = [d for s, d in now.durations if _band(s) == band]
        if len(was) < 5 or not got:
            continue
        lo, hi = quantile(was, 0.05) * (1 - slack), quantile(was, 0.95) * (1 + slack)
        out = [d for d in got if not lo <= d <= hi]
        if len(out) > max(1, 0.1 * len(got)):
            items.append(f"time to done, speech {band[0]:g}-{band[1]:g} s: {len(out)} of {len(got)} outside the "
                         f"recorded {lo:.1f}-{hi:.1f} s (median {quantile(got, 0.5):.1f} s, was "
                         f"{quantile(was, 0.5):.1f} s)")
    if not old.durations:
        notes.append("times to done not compared: the recorded run(s) have no finished task")
    return Drift(items, notes)
