"""Records reused from a run that computed a measure by an earlier definition are measured again from their
stored videos (``_remeasure``): a run never mixes two definitions, and nothing is sent again."""

from __future__ import annotations

import json
from pathlib import Path

from navtalk_sweep._remeasure import measured_again, stale
from navtalk_sweep.record import CaseRecord, Outcome, revisions
from navtalk_sweep.session import Sweep, Target, load_plan, run_sweep
from tests.conftest import small_tuning


def _as_measured_before(run: Path, lip_sync: float, measures: dict[str, int] | None) -> None:
    """Rewrite a run as another version would have left it: its lip sync values and its run.json's revisions."""
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta.pop("measures", None)
    if measures is not None:
        meta["measures"] = measures
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    lines = [json.loads(line) for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line["metrics"]["lip_sync"] = lip_sync
    (run / "results.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_records_reused_from_a_run_measured_by_an_earlier_definition_are_measured_again(tmp_path):
    scenario = small_tuning(tmp_path, step=18, margins="[0]")  # 2 settings of 1 s
    plan = load_plan([scenario])
    first = run_sweep(plan, tmp_path / "old", target=Target.mock(), report=False)
    measured = {r.case_id: r.metrics["lip_sync"] for r in first.records}
    assert len(measured) == 2

    _as_measured_before(tmp_path / "old", 0.123, None)  # a run.json from before revisions: all at revision 1
    sweep = Sweep(plan, tmp_path / "new", target=Target.mock(), report=False, reuse=tmp_path / "old")
    assert [n for n in sweep.notices() if n.startswith("reuse:") and "lip_sync" in n]
    again = sweep.run()
    assert {r.case_id: r.metrics["lip_sync"] for r in again.records} == measured  # this code's values, not 0.123
    assert all(r.reused_from == "old" for r in again.records)
    meta = json.loads((tmp_path / "new" / "run.json").read_text(encoding="utf-8"))
    assert meta["mock_calls"].get("generate", 0) == 0 and meta["measures"] == revisions()

    # a run that measures nothing shows the values it reuses, and names the revisions they were computed by
    run_sweep(plan, tmp_path / "plain", target=Target.mock(), report=False, reuse=tmp_path / "new", measure=False)
    assert json.loads((tmp_path / "plain" / "run.json").read_text(encoding="utf-8"))["measures"] == revisions()

    # the same revisions: a reused record is taken whole, as before
    _as_measured_before(tmp_path / "old", 0.123, revisions())
    same = run_sweep(plan, tmp_path / "same", target=Target.mock(), report=False, reuse=tmp_path / "old")
    assert {r.metrics["lip_sync"] for r in same.records} == {0.123}


def test_a_run_resumed_after_a_measure_changed_measures_and_judges_its_finished_cases_again(tmp_path):
    scenario = small_tuning(tmp_path, step=18, margins="[0]")  # 2 settings of 1 s
    text = scenario.read_text(encoding="utf-8")
    scenario.write_text(text.replace("  duration_tolerance: 0.3", "  duration_tolerance: 0.3\n  measures: {lip_sync: {min: 0.99}}"),
                        encoding="utf-8")
    run = tmp_path / "run"
    first = run_sweep(load_plan([scenario]), run, target=Target.mock(), report=False)
    measured = {r.case_id: r.metrics["lip_sync"] for r in first.records}
    assert {r.outcome for r in first.records} == {Outcome.FAILED}  # no simulated video syncs to 0.99

    # as an earlier version left it: revision 1, and by that definition every lip sync passed
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    meta.pop("measures")
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    events = [json.loads(line) for line in (run / "journal.jsonl").read_text(encoding="utf-8").splitlines()]
    for event in events:
        for rec in event.get("records", ()):
            rec["metrics"]["lip_sync"], rec["outcome"] = 0.999, "passed"
    (run / "journal.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")

    sweep = Sweep.resuming(run, report=False)
    assert [n for n in sweep.notices() if n.startswith("resume:") and "lip_sync" in n]
    again = sweep.run()
    assert {r.case_id: r.metrics["lip_sync"] for r in again.records} == measured
    assert {r.outcome for r in again.records} == {Outcome.FAILED}  # judged again on the values it shows
    meta = json.loads((run / "run.json").read_text(encoding="utf-8"))
    assert meta["measures"] == revisions() and meta["mock_calls"].get("generate", 0) == 0


def test_a_value_that_cannot_be_measured_again_is_left_out_with_a_note(tmp_path):
    rec = CaseRecord(case_id="c", key="c", scenario="s", label="l", outcome=Outcome.PASSED,
                     video=str(tmp_path / "gone.mp4"),
                     metrics={"lip_sync": 0.5, "seam": 2.0})
    out = measured_again({"c": rec}, ("lip_sync",), lambda r: (None, None), "run old")
    assert out["c"].metrics == {"seam": 2.0}
    note = "lip_sync left out: run old measured it by an earlier definition and the video could not be measured again here"
    assert out["c"].notes == (note,)


def test_stale_names_the_measures_whose_revision_differs():
    assert stale(revisions()) == ()
    assert stale({}) == tuple(sorted(revisions()))  # a run.json from before revisions
    assert stale({**revisions(), "seam": 2}) == ("seam",)  # a run from a later version
