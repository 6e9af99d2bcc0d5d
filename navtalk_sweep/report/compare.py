"""Compare two runs: what regressed, what is new, missing, flaky, slower, or looks different."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from navtalk_sweep.record import BAD_OUTCOMES, FIELDS, Better, CaseRecord, Field, Outcome, numeric_fields
from navtalk_sweep.report._stats import estimate, separated
from navtalk_sweep.results import Run

#: kinds that make ``compare`` exit 1
REGRESSION_KINDS = ("regressed", "new failure", "missing", "flaky", "measure worse")
#: timings of the service, compared as "slower" and "faster" above, not as measures of the video
_TIMINGS = frozenset({"time_to_done", "submit_latency", "retries", "polls"})


@dataclass
class Comparison:
    base: str
    new: str
    items: list[dict[str, Any]] = field(default_factory=list)

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return [i for i in self.items if i["kind"] in REGRESSION_KINDS]

    def as_dict(self) -> dict[str, Any]:
        return {"base": self.base, "new": self.new, "regressions": self.regressions,
                "changes": [i for i in self.items if i["kind"] not in REGRESSION_KINDS]}


def _by_case(run: Run) -> dict[tuple[str, str], list[CaseRecord]]:
    out: dict[tuple[str, str], list[CaseRecord]] = defaultdict(list)
    for rec in run.records:
        if rec.outcome is not Outcome.SKIPPED:
            out[(rec.scenario, rec.case_id)].append(rec)
    return out


def _outcome(recs: list[CaseRecord]) -> str:
    kinds = {r.outcome.value for r in recs}
    return kinds.pop() if len(kinds) == 1 else "flaky"


def _mean(recs: list[CaseRecord]) -> float | None:
    vals = [r.time_to_done for r in recs if r.time_to_done is not None]
    return sum(vals) / len(vals) if vals else None


def compare_runs(base: Run, new: Run, *, time_ratio: float = 1.5, time_floor: float = 2.0,
                 duration_delta: float = 0.1) -> Comparison:
    """Differences from ``base`` to ``new``; slower means over ``time_ratio`` x and ``time_floor`` s more."""
    old_cases, new_cases = _by_case(base), _by_case(new)
    out = Comparison(str(base.meta.get("run_id") or base.path), str(new.meta.get("run_id") or new.path))
    apart = _computed_apart(base, new)
    for name, (then, since) in sorted(apart.items()):
        older = base if then < since else new  # measured again by `run --reuse` of it: its videos, no request
        out.items.append({"kind": "not compared", "scenario": "", "case_id": "", "label": "every case",
                          "detail": f"{FIELDS[name].label}: the baseline computed it by revision {then}, this run by "
                                    f"revision {since} (docs/metrics.md): to compare it, run {older.path}'s scenarios "
                                    f"again with --reuse {older.path} (its videos are measured again, nothing is sent)"})

    def add(kind: str, key: tuple[str, str], recs: list[CaseRecord], detail: str) -> None:
        out.items.append({"kind": kind, "scenario": key[0], "case_id": key[1],
                          "label": recs[0].label or key[1], "detail": detail})

    for key, recs in new_cases.items():
        now = _outcome(recs)
        if now == "flaky":
            shown = ", ".join(r.outcome for r in recs)
            add("flaky", key, recs, f"outcomes differ between repeats: {shown}")
        before_recs = old_cases.get(key)
        if before_recs is None:
            if now in BAD_OUTCOMES:
                add("new failure", key, recs, f"{now}: {recs[0].error or ''}".rstrip(": "))
            continue
        before = _outcome(before_recs)
        if before == "passed" and now in BAD_OUTCOMES:
            add("regressed", key, recs, f"passed -> {now}: {recs[0].error or ''}".rstrip(": "))
        elif before in BAD_OUTCOMES and now == "passed":
            add("fixed", key, recs, f"{before} -> passed")
        t_old, t_new = _mean(before_recs), _mean(recs)
        if t_old and t_new and t_new > t_old * time_ratio and t_new - t_old > time_floor:
            add("slower", key, recs, f"time to done {t_old:.1f} s -> {t_new:.1f} s")
        elif t_old and t_new and t_old > t_new * time_ratio and t_old - t_new > time_floor:
            add("faster", key, recs, f"time to done {t_old:.1f} s -> {t_new:.1f} s")
        f_old, f_new = before_recs[0].facts or {}, recs[0].facts or {}
        changed = []
        for fact in sorted(set(f_old) & set(f_new)):
            a, b = f_old[fact], f_new[fact]
            if isinstance(a, float) and isinstance(b, float):
                if abs(a - b) > duration_delta:
                    changed.append(f"{fact} {a:g} -> {b:g}")
            elif a != b:
                changed.append(f"{fact} {a} -> {b}")
        if changed:
            add("video changed", key, recs, ", ".join(changed))
        tolerances = (new.meta.get("tolerances") or {}).get(key[0]) or {}
        for f in numeric_fields():
            if f.better is not None and f.name not in _TIMINGS and f.name not in apart:
                moved = _measure_moved(f, before_recs, recs, tolerances.get(f.name))
                if moved is not None:
                    add(*moved[:1], key, recs, moved[1])
    for key, recs in old_cases.items():
        if key not in new_cases:
            add("missing", key, recs, f"in the baseline ({_outcome(recs)}), not in the new run")
    return out


def _computed_apart(base: Run, new: Run) -> dict[str, tuple[int, int]]:
    """The measures the two runs computed differently (``record.revisions``; a run.json without ``measures``
    computed every measure at revision 1) and that both runs have values of: (base's, new's) revision."""
    def revision(run: Run, name: str) -> int:
        return int((run.meta.get("measures") or {}).get(name, 1))

    def measured(run: Run, name: str) -> bool:
        return any(name in r.metrics for r in run.records)

    return {f.name: (revision(base, f.name), revision(new, f.name)) for f in numeric_fields()
            if revision(base, f.name) != revision(new, f.name) and measured(base, f.name) and measured(new, f.name)}


def _measure_moved(f: Field, before: list[CaseRecord], now: list[CaseRecord],
                   tolerance: float | None) -> tuple[str, str] | None:
    """A measure worse (or better) beyond the declared ``drop`` tolerance, or else beyond the noise of the
    repeats; one value on each side and no tolerance cannot tell a change from noise: nothing is said."""
    def values(recs: list[CaseRecord]) -> list[float]:
        return [float(v) for r in recs if isinstance(v := f.value(r), int | float) and not isinstance(v, bool)]

    old, new = estimate(values(before)), estimate(values(now))
    if old is None or new is None:
        return None
    worse_by = (old.mean - new.mean) if f.better is Better.HIGHER else (new.mean - old.mean)
    shown = f"{f.label} {old.mean:.3g} -> {new.mean:.3g}"
    if tolerance is not None:
        if worse_by > tolerance:
            return "measure worse", f"{shown}, worse by {worse_by:.3g} (drop allowed: {tolerance:g})"
        return None
    apart = separated(old, new)
    if not apart:
        return None
    noise = f"beyond the noise of {old.n} and {new.n} repeats"
    return ("measure worse", f"{shown}, {noise}") if worse_by > 0 else ("measure better", f"{shown}, {noise}")


def format_comparison(c: Comparison, fmt: str = "text") -> str:
    import json

    if fmt == "json":
        return json.dumps(c.as_dict(), indent=2)
    regs = c.regressions
    changes = [i for i in c.items if i not in regs]
    if fmt == "markdown":
        lines = [f"### navtalk-sweep: {len(regs)} regression(s) against `{c.base}`", ""]
        for title, items in (("Regressions", regs), ("Other changes", changes)):
            if items:
                lines += [f"**{title}**", "", "| kind | scenario | case | detail |", "|---|---|---|---|"]
                lines += [f"| {i['kind']} | {i['scenario']} | {_case(i, '({})', '`')} | "
                          f"{i['detail'].replace('|', '/')} |" for i in items]
                lines.append("")
        if not c.items:
            lines.append("No differences.")
        return "\n".join(lines)
    lines = [f"{len(regs)} regression(s), {len(changes)} other change(s): {c.base} -> {c.new}"]
    lines += [f"  {i['kind']:<13} {i['scenario'] + ': ' if i['scenario'] else ''}{_case(i, '[{}]')} {i['detail']}"
              for i in regs + changes]
    return "\n".join(lines)


def _case(item: dict[str, Any], brackets: str, quote: str = "") -> str:
    """An item's case as a line shows it: its label and id, or the label alone for the whole run."""
    if not item["case_id"]:
        return str(item["label"])
    return f"{item['label']} " + brackets.format(f"{quote}{item['case_id']}{quote}")
