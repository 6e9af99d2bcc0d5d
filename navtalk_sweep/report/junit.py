"""junit.xml: one testsuite per scenario, one testcase per case, parameters as properties."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from typing import Any

from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.results import Run


def _text(value: Any) -> str:
    # XML 1.0 forbids most control characters; a service's message may hold any
    return "".join(ch for ch in str(value) if ch in "\t\n\r" or ord(ch) >= 0x20)


def junit_tree(run: Run) -> ET.ElementTree:
    suites: dict[str, list[CaseRecord]] = defaultdict(list)
    for rec in run.records:
        suites[rec.scenario or "navtalk"].append(rec)
    root = ET.Element("testsuites", name="navtalk-sweep")
    totals: defaultdict[str, int] = defaultdict(int)
    for name, recs in suites.items():
        counts = {"tests": len(recs), "failures": 0, "errors": 0, "skipped": 0}
        suite = ET.SubElement(root, "testsuite", name=name)
        time_total = 0.0
        for rec in recs:
            seconds = float(rec.time_to_done or 0.0)
            time_total += seconds
            label = rec.label or rec.case_id
            if rec.repeat > 1:
                label = f"{label} (repeat {rec.repeat})"
            case = ET.SubElement(suite, "testcase", name=_text(label), classname=_text(f"navtalk.{name}"),
                                 time=f"{seconds:.3f}")
            props = ET.SubElement(case, "properties")
            for key, value in {"case_id": rec.case_id, "mode": rec.mode, "task_id": rec.task_id,
                               **rec.params}.items():
                if value is not None:
                    ET.SubElement(props, "property", name=_text(key), value=_text(value))
            outcome = rec.outcome
            message = _text(rec.error or "; ".join(c.detail for c in rec.checks if not c.ok) or outcome)
            if outcome in (Outcome.FAILED, Outcome.REJECTED, Outcome.TIMEOUT):
                counts["failures"] += 1
                node = ET.SubElement(case, "failure", message=message[:500], type=str(outcome))
                node.text = message
            elif outcome is Outcome.ERROR:
                counts["errors"] += 1
                node = ET.SubElement(case, "error", message=message[:500], type="error")
                node.text = message
            elif outcome is Outcome.SKIPPED:
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message=message[:500])
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("time", f"{time_total:.3f}")
    for k in ("tests", "failures", "errors", "skipped"):
        root.set(k, str(totals[k]))
    ET.indent(root)
    return ET.ElementTree(root)


def write_junit(run: Run, path: Path | None = None) -> Path:
    path = path or run.path / "junit.xml"
    junit_tree(run).write(path, encoding="utf-8", xml_declaration=True)
    return path
