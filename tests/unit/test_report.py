"""Reports are pure functions of stored results: HTML (escaped), JUnit, compare, merge."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import xmlschema
from junitparser import Error, Failure, JUnitXml, Skipped

from navtalk_sweep.cli import main
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.report import compare_runs, format_comparison, merge_runs, percentile, render_html, write_junit
from navtalk_sweep.results import Run, load_run, write_meta, write_results
from tests.conftest import DATA


def record(case_id: str, outcome: str = "passed", *, scenario: str = "s", t: float = 10.0, **extra) -> dict:
    return {"case_id": case_id, "key": case_id, "repeat": 1, "scenario": scenario, "label": f"image+tts {case_id}",
            "mode": 4, "params": {"bbox_shift": int(case_id[-1]) if case_id[-1].isdigit() else 0, "extra_margin": 10},
            "request": {"image_url": "https://example.com/p.jpg", "content": "hi", "voice": "nova"},
            "outcome": outcome, "final_status": "done" if outcome == "passed" else "failed",
            "error": None if outcome == "passed" else "face not found", "time_to_done": t, "polls": 3,
            "retries": 0, "task_id": f"task-{case_id}", "status_history": [{"status": "done", "t": t}],
            "video_url": "https://example.com/v.mp4?sig=x", "submit_unknown": False, "checks": [], **extra}


def make_run(path: Path, records: list[dict], run_id: str = "run") -> Run:
    path.mkdir(parents=True, exist_ok=True)
    write_results(path, [CaseRecord.from_dict(r) for r in records])
    write_meta(path, {"run_id": run_id, "target": {"kind": "mock", "generate_url": "x", "license": "sk-…test"}})
    return load_run(path)


def test_error_message_with_script_is_text_not_markup(tmp_path):
    evil = "</script><script>alert('x')</script><img src=x onerror=alert(1)>"
    run = make_run(tmp_path / "r", [record("c1", "failed", error=evil, label=f"label {evil}")])
    html = render_html(run)
    assert "<script>alert" not in html and "<img src=x" not in html
    assert html.count("<script") == 2  # the data island and the page's own script
    data = json.loads(re.search(r'<script type="application/json" id="navtalk-data">(.*?)</script>', html,
                                re.DOTALL).group(1))
    assert data["rows"][0]["v"]["error"] == evil  # intact as data, rendered as text by the page


def test_html_is_self_contained(tmp_path):
    run = make_run(tmp_path / "r", [record(f"c{i}") for i in range(5)])
    html = render_html(run)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "@import" not in html


def test_junit_parses_validates_and_counts(tmp_path):
    recs = [record("a1"), record("a2", "failed"), record("a3", "error"), record("b1", "timeout", scenario="t"),
            record("b2", "skipped", scenario="t"), record("b3", "rejected", scenario="t",
                                                          error="bad \x00control chars")]
    run = make_run(tmp_path / "r", recs)
    path = write_junit(run)
    xmlschema.XMLSchema(str(DATA / "junit.xsd")).validate(str(path))
    xml = JUnitXml.fromfile(str(path))
    suites = {s.name: s for s in xml}
    assert set(suites) == {"s", "t"}
    assert (suites["s"].tests, suites["s"].failures, suites["s"].errors) == (3, 1, 1)
    assert (suites["t"].tests, suites["t"].failures, suites["t"].skipped) == (3, 2, 1)
    cases = {c.name: c for s in xml for c in s}
    assert isinstance(cases["image+tts a2"].result[0], Failure)
    assert cases["image+tts a2"].result[0].message == "face not found"
    assert isinstance(cases["image+tts a3"].result[0], Error)
    assert isinstance(cases["image+tts b2"].result[0], Skipped)
    props = {p.get("name"): p.get("value") for p in cases["image+tts a1"]._elem.iter("property")}
    assert props["case_id"] == "a1" and props["bbox_shift"] == "1"


def test_compare_reports_exactly_the_known_differences(tmp_path, capsys):
    base = [record("c1"), record("c2"), record("c3"), record("c4", "failed"), record("c5", t=5.0),
            record("c6", facts={"duration": 5.0, "height": 512})]
    new = copy.deepcopy(base)
    new[1] = record("c2", "error")  # regressed
    new[2] = record("c7", "failed")  # c3 missing, c7 a new failure
    new[3] = record("c4")  # fixed
    new[4] = record("c5", t=12.0)  # slower
    new[5] = record("c6", facts={"duration": 6.0, "height": 512})  # video changed
    new.append({**record("c1"), "key": "c1~2", "repeat": 2, "outcome": "failed"})  # flaky across repeats
    b, n = make_run(tmp_path / "b", base, "base"), make_run(tmp_path / "n", new, "new")
    c = compare_runs(b, n)
    kinds = sorted((i["kind"], i["case_id"]) for i in c.items)
    assert kinds == [("fixed", "c4"), ("flaky", "c1"), ("missing", "c3"), ("new failure", "c7"),
                     ("regressed", "c2"), ("slower", "c5"), ("video changed", "c6")]
    assert {i["kind"] for i in c.regressions} == {"regressed", "new failure", "missing", "flaky"}
    md = format_comparison(c, "markdown")
    assert md.startswith("### navtalk-sweep: 4 regression(s)") and "| regressed | s |" in md
    assert main(["compare", str(tmp_path / "b"), str(tmp_path / "n"), "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["new"] == "new"
    assert main(["compare", str(tmp_path / "b"), str(tmp_path / "b")]) == 0


def test_merge_joins_shards(tmp_path):
    a = make_run(tmp_path / "a", [record("c1"), record("c2")], "a")
    b = make_run(tmp_path / "b", [record("c3", "failed")], "b")
    merged = merge_runs([str(a.path), str(b.path)], tmp_path / "m")
    assert sorted(r.case_id for r in merged.records) == ["c1", "c2", "c3"]
    assert merged.meta["merged_from"] == ["a", "b"]
    assert main(["merge", str(a.path), str(b.path), "--out", str(tmp_path / "m2")]) == 0
    assert (tmp_path / "m2" / "report.html").exists() and (tmp_path / "m2" / "junit.xml").exists()


def test_merge_keeps_videos_posters_and_mouth_strips(tmp_path):
    runs = []
    for name in ("a", "b"):
        images = {"poster": f"posters/{name}.png", "mouths": f"mouths/{name}.png"}
        run = make_run(tmp_path / name, [record(f"c-{name}", video=f"videos/{name}.mp4", images=images)], name)
        for rel in (f"videos/{name}.mp4", *images.values()):
            (run.path / rel).parent.mkdir(parents=True, exist_ok=True)
            (run.path / rel).write_bytes(f"{name}:{rel}".encode())
        runs.append(run)
    merged = merge_runs([str(r.path) for r in runs], tmp_path / "m")
    for rec in merged.records:
        for rel in (rec.video, *rec.images.values()):
            assert rel and (tmp_path / "m" / rel).read_bytes() == (tmp_path / rec.case_id[-1] / rel).read_bytes()


def test_marks_round_trip_into_results(tmp_path):
    run = make_run(tmp_path / "r", [record("c1"), record("c2")], "rid")
    marks = tmp_path / "marks.json"
    marks.write_text(json.dumps({"run_id": "rid", "marks": [{"key": "c2", "rating": "4", "note": "jaw ok"}]}))
    assert main(["marks", str(run.path), str(marks)]) == 0
    again = load_run(run.path)
    assert [r.review for r in again.records] == [None, {"rating": 4, "note": "jaw ok"}]


def test_report_command_needs_no_network_and_names_bad_input(tmp_path, capsys):
    make_run(tmp_path / "r", [record("c1")])
    assert main(["report", str(tmp_path / "r")]) == 0
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope'}: no such run directory\n"
    (tmp_path / "r" / "results.jsonl").write_text('{"case_id": "c1", "outcome": "passed"}\n{broken\n')
    assert main(["report", str(tmp_path / "r")]) == 2
    assert capsys.readouterr().err.endswith("results.jsonl:2: not JSON (Expecting property name enclosed in double "
                                            "quotes)\n")


@pytest.mark.parametrize(("values", "q", "expected"), [([], 50, None), ([3.0], 99, 3.0),
                                                       ([1, 2, 3, 4], 50, 2), ([1, 2, 3, 4], 90, 4)])
def test_percentile(values, q, expected):
    assert percentile(values, q) == expected


GOLDEN = DATA / "golden"


def golden_run(tmp_path: Path) -> Run:
    recs = [record("g1"), record("g2", "failed", t=12.5), record("g3", "error", scenario="t"),
            record("g4", "skipped", scenario="t")]
    return make_run(tmp_path / "golden", recs, "golden")


@pytest.mark.parametrize("name", ["junit.xml", "summary.json"])
def test_golden_outputs(tmp_path, name):
    import os

    from navtalk_sweep.report import summary

    run = golden_run(tmp_path)
    if name == "junit.xml":
        produced = write_junit(run).read_text(encoding="utf-8")
    else:
        produced = json.dumps(summary(run), indent=2, sort_keys=True) + "\n"
    path = GOLDEN / name
    if os.environ.get("NAVTALK_REGENERATE_GOLDEN"):
        path.write_text(produced, encoding="utf-8")
    assert produced == path.read_text(encoding="utf-8"), (
        f"{name} changed; if on purpose: NAVTALK_REGENERATE_GOLDEN=1 pytest {__file__} -k golden")


@pytest.mark.parametrize(("content", "message"), [
    ('{"case_id": "c1", "outcome": "passed"}\n[1, 2]\n', "results.jsonl:2: expected a JSON object, got list"),
    ('{"outcome": "passed"}\n', "results.jsonl:1: record without a str 'case_id'"),
    ('{"case_id": "c1", "outcome": null}\n', "results.jsonl:1: record without a str 'outcome'"),
])
def test_broken_records_are_named_not_crashed_on(tmp_path, capsys, content, message):
    run = tmp_path / "r"
    run.mkdir()
    (run / "results.jsonl").write_text(content, encoding="utf-8")
    assert main(["compare", str(run), str(run)]) == 2
    assert capsys.readouterr().err == f"error: {run / message}\n"


def test_marks_with_a_bad_rating_are_refused(tmp_path, capsys):
    run = make_run(tmp_path / "r", [record("c1")], "rid")
    marks = tmp_path / "marks.json"
    marks.write_text(json.dumps({"run_id": "rid", "marks": [{"key": "c1", "rating": "great"}]}))
    assert main(["marks", str(run.path), str(marks)]) == 2
    assert capsys.readouterr().err == f"error: {marks}: rating of c1 must be 1 to 5, got 'great'\n"


def test_the_live_report_waits_nine_times_as_long_as_its_last_rewrite_took(monkeypatch, tmp_path):
    from types import SimpleNamespace

    from navtalk_sweep.report import _live

    now = [0.0]
    written: list[float] = []

    def write(run, refresh):
        written.append(now[0])
        now[0] += 2.0  # a big page: 2 s to write

    monkeypatch.setattr(_live.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(_live, "write_html", write)
    monkeypatch.setattr(_live, "RunDirectory", lambda d: SimpleNamespace(read_meta=lambda: SimpleNamespace(to_dict=dict)))
    live = _live.LiveReport(tmp_path, every=1.0)
    for n in range(24):  # a case finishes every second
        now[0] += 1.0
        live.finished(f"c{n}", [])
    # at 1 s (then 2 s of writing), not again until 18 s after it ended: at 21 s; at most a tenth of the time
    assert written == [1.0, 21.0]


def test_the_live_report_shows_a_resumed_run_s_earlier_cases_and_each_that_finishes(tmp_path):
    from navtalk_sweep.report import LiveReport

    run = make_run(tmp_path / "r", [])
    earlier, new = CaseRecord.from_dict(record("c1")), CaseRecord.from_dict(record("c2", "failed"))
    live = LiveReport(run.path, every=0.0, earlier={"c1": [earlier]})
    live.finished("c2", [new])
    data = json.loads(re.search(r'id="navtalk-data">(.*?)</script>', (run.path / "report.html").read_text()).group(1))
    assert [(row["id"], row["v"]["outcome"]) for row in data["rows"]] == [("c1", "passed"), ("c2", "failed")]
