"""A case's ``expect`` turned into an outcome: passed, failed, error, timeout, rejected or skipped."""

from __future__ import annotations

from typing import Any

from navtalk_sweep.scenario import Case

OUTCOMES = ("passed", "failed", "error", "timeout", "rejected", "skipped")
#: outcomes that make a run fail (exit code 1)
BAD_OUTCOMES = frozenset({"failed", "error", "timeout", "rejected"})


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def evaluate(case: Case, record: dict[str, Any], *, forced: str | None = None, rejected: bool = False,
             unknown: bool = False) -> tuple[str, list[dict[str, Any]]]:
    """The outcome of ``record`` against ``case.expect``, and the checks that decided it."""
    expect = case.expect
    if forced is not None:
        return forced, []
    if unknown:
        return "error", []
    if rejected:
        if expect.rejected:
            return "passed", [_check("rejected", True, f"refused as expected: {record.get('error')}")]
        return "rejected", [_check("rejected", False, str(record.get("error")))]
    final = record.get("final_status")
    checks = [_check("status", final == expect.status, f"expected {expect.status}, got {final}")]
    elapsed = record.get("time_to_done")
    if expect.within is not None and elapsed is not None:
        checks.append(_check("within", elapsed <= expect.within, f"{elapsed:.1f} s (limit {expect.within:g} s)"))
    facts = record.get("facts") or {}
    if final == "done" and expect.duration_tolerance is not None:
        duration = facts.get("duration")
        if duration is None:
            checks.append(_check("duration", False, "video not probed (install the media extra)"))
        else:
            off = abs(duration - case.speech_seconds)
            checks.append(_check("duration", off <= expect.duration_tolerance,
                                 f"video {duration:.2f} s vs speech {case.speech_seconds:.2f} s "
                                 f"(tolerance {expect.duration_tolerance:g} s)"))
    if final == "done" and expect.min_height is not None:
        height = facts.get("height")
        checks.append(_check("min_height", height is not None and height >= expect.min_height,
                             f"height {height} (minimum {expect.min_height})"))
    return ("passed" if all(c["ok"] for c in checks) else "failed"), checks
