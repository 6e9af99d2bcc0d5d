"""junit.xml: one testsuite per scenario, one testcase per case, parameters as properties.

Written as a stream, a case at a time: at 50,000 cases an element tree of the file took 250 MB.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.results import Run

#: how each outcome shows in the file: the count it adds to, its element
_ELEMENT = {Outcome.FAILED: "failure", Outcome.REJECTED: "failure", Outcome.TIMEOUT: "failure",
            Outcome.ERROR: "error", Outcome.SKIPPED: "skipped"}
_COUNT = {"failure": "failures", "error": "errors", "skipped": "skipped"}
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;",
                       "\t": "&#09;"})


#: the control characters XML 1.0 forbids (a service's message may hold any)
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _text(value: Any) -> str:
    return _FORBIDDEN.sub("", str(value))


def _attrs(**values: Any) -> str:
    return " ".join(f'{k}="{_text(v).translate(_ATTR)}"' for k, v in values.items())


def _message(rec: CaseRecord) -> str:
    return _text(rec.error or "; ".join(c.detail for c in rec.checks if not c.ok) or rec.outcome)


def _case(rec: CaseRecord, suite: str) -> Iterator[str]:
    label = rec.label or rec.case_id
    if rec.repeat > 1:
        label = f"{label} (repeat {rec.repeat})"
    yield (f'    <testcase {_attrs(name=label, classname=f"navtalk.{suite}", time=f"{rec.time_to_done or 0.0:.3f}")}>\n'
           "      <properties>\n")
    for key, value in {"case_id": rec.case_id, "mode": rec.mode, "task_id": rec.task_id, **rec.params}.items():
        if value is not None:
            yield f"        <property {_attrs(name=key, value=value)} />\n"
    yield "      </properties>\n"
    element = _ELEMENT.get(rec.outcome)
    if element is not None:
        message = _message(rec)
        if element == "skipped":
            yield f"      <skipped {_attrs(message=message[:500])} />\n"
        else:
            kind = rec.outcome if element == "failure" else "error"
            yield f"      <{element} {_attrs(message=message[:500], type=kind)}>{message.translate(_TEXT)}</{element}>\n"
    yield "    </testcase>\n"


def _counts(recs: Sequence[CaseRecord]) -> dict[str, int]:
    kinds = Counter(_COUNT[e] for r in recs if (e := _ELEMENT.get(r.outcome)) is not None)
    return {"tests": len(recs), "failures": kinds["failures"], "errors": kinds["errors"], "skipped": kinds["skipped"]}


def junit_lines(run: Run) -> Iterator[str]:
    """The file, a line at a time."""
    suites: dict[str, list[CaseRecord]] = defaultdict(list)
    for rec in run.records:
        suites[rec.scenario or "navtalk"].append(rec)
    counts = {name: _counts(recs) for name, recs in suites.items()}
    totals = {k: sum(c[k] for c in counts.values()) for k in ("tests", "failures", "errors", "skipped")}
    yield "<?xml version='1.0' encoding='utf-8'?>\n"
    yield f'<testsuites {_attrs(name="navtalk-sweep", **totals)}>\n'
    for name, recs in suites.items():
        seconds = f"{sum(float(r.time_to_done or 0.0) for r in recs):.3f}"
        yield f"  <testsuite {_attrs(name=name, **counts[name], time=seconds)}>\n"
        for rec in recs:
            yield from _case(rec, name)
        yield "  </testsuite>\n"
    yield "</testsuites>"


def junit_tree(run: Run) -> ET.ElementTree:
    """The file as an element tree (for a caller that wants to change it before writing)."""
    # without the declaration line: ElementTree refuses a str that declares its encoding
    return ET.ElementTree(ET.fromstring("".join(junit_lines(run)).split("\n", 1)[1]))


def write_junit(run: Run, path: Path | None = None) -> Path:
    path = path or run.path / "junit.xml"
    with path.open("w", encoding="utf-8") as fh:
        fh.writelines(junit_lines(run))
    return path
