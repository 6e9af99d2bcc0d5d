"""Write a stored run's report files: report.html, junit.xml, and comparison.json with a baseline."""

from __future__ import annotations

import json
import os
from pathlib import Path

from navtalk_sweep.record import CaseRecord
from navtalk_sweep.report._html import write_html
from navtalk_sweep.report.compare import Comparison, compare_runs
from navtalk_sweep.report.junit import write_junit
from navtalk_sweep.results import load_run

COMPARISON = "comparison.json"


def publish(run_dir: str | os.PathLike[str], baseline: str | os.PathLike[str] | None = None, *,
            records: list[CaseRecord] | None = None) -> Comparison | None:
    """Render the run's report files; with ``baseline``, compare first and keep the comparison beside them.

    Without a baseline, a comparison kept by an earlier call is shown again (re-rendering never
    forgets regressions). ``records``: the run's, when the caller holds them. Returns the new
    comparison, if one was made.
    """
    path = Path(run_dir)
    run = load_run(path, records)
    comparison = None
    shown = None
    if baseline is not None:
        comparison = compare_runs(load_run(baseline), run)
        shown = comparison.as_dict()
        (path / COMPARISON).write_text(json.dumps(shown, indent=2), encoding="utf-8")
    elif (path / COMPARISON).exists():
        shown = json.loads((path / COMPARISON).read_text(encoding="utf-8"))
    write_html(run, shown)
    write_junit(run)
    return comparison
