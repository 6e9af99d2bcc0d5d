"""A case's ``expect`` turned into an outcome, and the checks that decided it."""

from __future__ import annotations

from navtalk_sweep.record import BAD_OUTCOMES, FIELDS, CaseRecord, Check, Outcome
from navtalk_sweep.scenario import Expect

OUTCOMES = tuple(Outcome)

__all__ = ["BAD_OUTCOMES", "OUTCOMES", "evaluate"]


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def evaluate(expect: Expect, record: CaseRecord, *, forced: Outcome | None = None, rejected: bool = False,
             unknown: bool = False) -> tuple[Outcome, tuple[Check, ...]]:
    """The outcome of ``record`` against ``expect``, and the checks that decided it."""
    if forced is not None:
        return forced, ()
    if unknown:
        return Outcome.ERROR, ()
    if rejected:
        if expect.rejected:
            return Outcome.PASSED, (Check("rejected", True, f"refused as expected: {record.error}"),)
        return Outcome.REJECTED, (Check("rejected", False, str(record.error)),)
    final = record.final_status
    checks = [Check("status", final == expect.status, f"expected {expect.status}, got {final}")]
    elapsed = record.time_to_done
    if expect.within is not None and elapsed is not None:
        checks.append(Check("within", elapsed <= expect.within, f"{elapsed:.1f} s (limit {expect.within:g} s)"))
    facts = record.facts or {}
    if final == "done" and expect.duration_tolerance is not None:
        duration = facts.get("duration")
        speech = record.speech_seconds or 0.0
        if duration is None:
            checks.append(Check("duration", False, "video not probed (install the media extra)"))
        else:
            off = abs(duration - speech)
            checks.append(Check("duration", off <= expect.duration_tolerance,
                                f"video {duration:.2f} s vs speech {speech:.2f} s "
                                f"(tolerance {expect.duration_tolerance:g} s)"))
    if final == "done" and expect.min_height is not None:
        height = facts.get("height")
        checks.append(Check("min_height", height is not None and height >= expect.min_height,
                            f"height {height} (minimum {expect.min_height})"))
    for name, bound in expect.measures.items():
        if bound.min is None and bound.max is None:
            continue  # a drop alone is judged against a baseline (compare), not here
        declared = FIELDS.get(name)
        value = declared.value(record) if declared is not None else None
        limits = " and ".join(x for x in (f">= {_num(bound.min)}" if bound.min is not None else "",
                                          f"<= {_num(bound.max)}" if bound.max is not None else "") if x)
        if not isinstance(value, int | float):
            checks.append(Check(name, False, f"no value (expected {limits})"))
            continue
        ok = (bound.min is None or value >= bound.min) and (bound.max is None or value <= bound.max)
        unit = f" {declared.unit}" if declared is not None and declared.unit else ""
        checks.append(Check(name, ok, f"{_num(value)}{unit} (expected {limits})"))
    return (Outcome.PASSED if all(c.ok for c in checks) else Outcome.FAILED), tuple(checks)
