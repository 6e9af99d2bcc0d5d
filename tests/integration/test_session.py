"""The sweep engine from Python: the documented example, typed records, reuse, identity, order, old runs."""

from __future__ import annotations

import json
import re
import runpy
import shutil
import threading
from dataclasses import fields

import pytest

from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.record import FIELDS, CaseRecord, Field, Kind, Outcome
from navtalk_sweep.report import render_html
from navtalk_sweep.results import finished_records, in_order, load_run, read_journal, replay
from navtalk_sweep.runner import RunOptions
from navtalk_sweep.scenario import load_text
from navtalk_sweep.session import Sweep, Target, load_plan, run_sweep
from navtalk_sweep.simulator import SimulatorConfig
from tests.conftest import DATA, ROOT, SCENARIOS


def python_blocks(path):
    return re.findall(r"```python\n(.*?)```", path.read_text(encoding="utf-8"), re.DOTALL)


def test_the_documented_examples_run(tmp_path, monkeypatch, capsys):
    shutil.copytree(SCENARIOS, tmp_path / "scenarios")
    monkeypatch.chdir(tmp_path)
    for i, block in enumerate(python_blocks(ROOT / "docs" / "python.md")):
        (tmp_path / f"example{i}.py").write_text(block, encoding="utf-8")
        runpy.run_path(str(tmp_path / f"example{i}.py"), run_name="__main__")
        if i == 0:
            assert capsys.readouterr().out.splitlines()[0] == "27 case(s): 27 passed"
    assert (tmp_path / "reports" / "from-python" / "report.html").is_file()
    assert (tmp_path / "reports" / "voices" / "results.jsonl").is_file()


def test_records_are_typed_and_in_plan_order(tmp_path):
    plan = load_plan([SCENARIOS / "quickstart.yaml"])
    # finish order differs from plan order: tasks take from 5 to 20 s by speech length
    result = run_sweep(plan, tmp_path / "r", target=Target.mock(), options=RunOptions(concurrency=27))
    assert [r.case_id for r in result.records] == [c.case_id for c in plan.cases]
    finished = [e["key"] for e in map(json.loads, (tmp_path / "r" / "journal.jsonl").read_text().splitlines())
                if e["event"] == "CaseFinished"]
    assert finished != [c.case_id for c in plan.cases]  # so the order above is not an accident
    stored = [json.loads(line)["case_id"] for line in (tmp_path / "r" / "results.jsonl").read_text().splitlines()]
    assert stored == [c.case_id for c in plan.cases]
    assert all(isinstance(r, CaseRecord) and r.outcome is Outcome.PASSED for r in result.records)
    assert result.ok and result.status == "finished"


def test_identity_request_hash_repeat_key_and_what_the_service_counts(tmp_path):
    scenario = tmp_path / "local.yaml"
    shutil.copy(SCENARIOS / "media" / "6.jpg", tmp_path / "face.jpg")
    scenario.write_text("""
name: local
inputs:
  faces: {me: {file: face.jpg}}
  speech: {hi: {text: "Hello there.", voice: nova}}
matrix:
  bbox_shift: [0, 5]
""", encoding="utf-8")
    sweep = Sweep(load_plan([scenario]), tmp_path / "r", target=Target.mock(), options=RunOptions(repeat=2))
    result = sweep.run()
    assert len(result.records) == 4
    for rec in result.records:
        # case_id: the declared request (the local file by content digest); key: one job per repeat
        assert rec.key == f"{rec.case_id}~{rec.repeat}"
        # request_id: the body as sent, the file sent as the target's URL named by its content as in the case id
        # (what the service counts; a recording replays on any host and port)
        assert rec.request_id == rec.case_id and rec.request["image_url"].startswith("https://mock.navtalk.invalid/")
    assert sweep.service.simulator.submits == {r.request_id: 2 for r in result.records}
    # the run's in-process mock keeps its counts and drops its tasks (no one can poll them: memory at scale)
    assert sweep.service.simulator.tasks == {} and sweep.service.simulator.calls["generate"] == 4


def test_reuse_keeps_every_field_of_a_record(tmp_path):
    plan = load_plan([SCENARIOS / "quickstart.yaml"])
    first = run_sweep(plan, tmp_path / "a", target=Target.mock())
    assert all(r.video_bytes for r in first.records)  # the field reuse used to drop
    again = run_sweep(plan, tmp_path / "b", target=Target.mock(seed=9), reuse=tmp_path / "a")
    for old, new in zip(first.records, again.records, strict=True):
        assert new.reused_from == first.run_dir.name
        assert new.replace(reused_from=None) == old  # whole records, videos copied to the same relative path
        assert (tmp_path / "b" / new.video).read_bytes() == (tmp_path / "a" / old.video).read_bytes()
    stored = load_run(tmp_path / "b").records
    assert stored == again.records


@pytest.fixture
def loudness(monkeypatch):
    """A new numeric field, declared in one place."""
    monkeypatch.setitem(FIELDS, "loudness", Field("loudness", "loudness", Kind.NUMBER, unit="dB"))


def test_a_field_declared_once_is_a_column_a_heatmap_and_an_expect_target(tmp_path, loudness):
    text = """
name: loud
inputs:
  faces: {girl: {character_name: girl2}}
  speech: {hi: {text: "Hello there.", voice: nova}}
matrix:
  bbox_shift: [0, 5]
  extra_margin: [0, 20]
expect:
  measures:
    loudness: {max: 3}
"""
    cases = list(load_text(text, "loud.yaml").plans[0])
    result = run_sweep(cases, tmp_path / "r", target=Target.mock(), report=False)
    # the runner knows nothing of loudness: no value yet, so every case fails its check, saying why
    assert {r.outcome for r in result.records} == {Outcome.FAILED}
    assert result.records[0].checks[-1].detail == "no value (expected <= 3)"
    records = [r.replace(metrics={"loudness": float(r.value("bbox_shift") + r.value("extra_margin") / 10)})
               for r in result.records]
    run = load_run(tmp_path / "r")
    run.records = records
    html = render_html(run)
    data = json.loads(re.search(r'id="navtalk-data">(.*?)</script>', html, re.DOTALL).group(1))
    column = next(c for c in data["columns"] if c["name"] == "loudness")
    assert column == {"name": "loudness", "label": "loudness", "kind": "number", "order": None, "unit": "dB",
                      "better": None}
    assert sorted(row["v"]["loudness"] for row in data["rows"]) == [0.0, 2.0, 5.0, 7.0]
    assert 'aria-label="loudness over' in html  # a heatmap measure
    from navtalk_sweep.runner import evaluate

    verdicts = [evaluate(cases[0].expect, r)[0] for r in records]
    assert verdicts == [Outcome.PASSED, Outcome.PASSED, Outcome.FAILED, Outcome.FAILED]


def test_an_unknown_measure_is_a_scenario_error_with_a_hint():
    from navtalk_sweep.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"unknown measure 'time_to_dne' \(did you mean 'time_to_done'\?\)"):
        load_text("name: x\ninputs: {faces: {a: {character_name: girl2}}, speech: {b: {text: hi, voice: nova}}}\n"
                  "expect: {measures: {time_to_dne: {max: 3}}}\n", "x.yaml")


@pytest.mark.parametrize("name", ["v0.1.0-quickstart", "v0.1.0-faults"])
def test_runs_written_by_v0_1_0_still_load_render_and_replay(tmp_path, name):
    shutil.copytree(DATA / "runs" / name, tmp_path / name)
    run = load_run(tmp_path / name)
    raw = [json.loads(line) for line in (tmp_path / name / "results.jsonl").read_text().splitlines()]
    assert len(run.records) == len(raw) == 32
    for rec, line in zip(run.records, raw, strict=True):
        assert rec.to_dict() == line  # nothing lost, nothing added: the same line back
    replayed = replay(read_journal(tmp_path / name / "journal.jsonl"))
    assert in_order(replayed.records, (r.key for r in run.records)) == run.records
    # the end of a run reads only the CaseFinished lines: the same records from a journal of that version
    assert finished_records(tmp_path / name / "journal.jsonl") == replayed.records
    assert "navtalk-data" in render_html(run)


def test_unknown_keys_from_another_version_survive_a_round_trip():
    line = {"case_id": "c1", "outcome": "passed", "added_in_v9": {"x": 1}}
    assert CaseRecord.from_dict(line).to_dict()["added_in_v9"] == {"x": 1}


def test_api_misuse_is_an_invalid_argument(tmp_path):
    with pytest.raises(InvalidArgument, match="must be an http"):
        Target.base_url("ftp://example.com")
    with pytest.raises(InvalidArgument, match="no licence"):
        Sweep([], tmp_path, target=Target.base_url("http://127.0.0.1:9", env={}))
    with pytest.raises(InvalidArgument, match="Case objects"):
        Sweep(["not a case"], tmp_path)  # type: ignore[list-item]
    with pytest.raises(InvalidArgument, match="shard"):
        load_plan([SCENARIOS / "quickstart.yaml"], shard=(2, 2))


def test_a_sweep_stops_from_another_thread_and_resumes(tmp_path):
    plan = load_plan([SCENARIOS / "quickstart.yaml"])
    # on the real clock a task takes a few seconds: stop while they are in flight
    config = SimulatorConfig.from_dict({"timing": "fixed:30"})
    sweep = Sweep(plan, tmp_path / "r", target=Target.mock(config=config, clock="real"),
                  options=RunOptions(concurrency=4, first_poll=0.05), report=False)
    submitted = threading.Event()
    sweep.on_event = lambda e: submitted.set() if type(e).__name__ == "CaseSubmitted" else None
    stopper = threading.Thread(target=lambda: (submitted.wait(10), sweep.stop("enough")))
    stopper.start()
    result = sweep.run()
    stopper.join()
    assert result.status == "stopped" and result.stop_reason == "enough"
    assert len(result.records) == 27 and {r.outcome for r in result.records} == {Outcome.SKIPPED}
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["status"] == "stopped" and meta["target"]["license"] == "sk-…mock"
    assert {f.name for f in fields(CaseRecord)} >= {"request_id", "metrics"}


def test_the_report_is_rewritten_while_the_run_goes_and_served_on_loopback(tmp_path):
    import threading

    import httpx

    from navtalk_sweep._cli_report import serve_run
    from navtalk_sweep.runner import CaseFinished
    from navtalk_sweep.session import Sweep

    seen: list[str] = []

    def watch(event):
        if isinstance(event, CaseFinished) and (tmp_path / "r" / "report.html").exists():
            seen.append((tmp_path / "r" / "report.html").read_text(encoding="utf-8"))

    Sweep(load_plan([SCENARIOS / "every_voice.yaml"]), tmp_path / "r", target=Target.mock(), live_every=0.0,
          on_event=watch).run()
    # rewritten as cases finished (no sooner than 4 times the last rewrite took), atomically: every read whole
    assert len(seen) >= 2
    assert all(page.rstrip().endswith("</html>") for page in seen)
    assert 'http-equiv="refresh"' in seen[0] and "Still running: 1 case(s) finished so far" in seen[0]
    final = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert 'http-equiv="refresh"' not in final and "Still running" not in final
    started = threading.Event()
    where: dict = {}

    def ready(url, server):
        where.update(url=url, server=server)
        started.set()

    thread = threading.Thread(target=serve_run, args=(tmp_path / "r", 0, ready), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        assert where["url"].startswith("http://127.0.0.1:")
        page = httpx.get(where["url"], timeout=5)
        assert page.status_code == 200 and "navtalk-sweep run" in page.text
        # never "not modified": the page is rewritten within the second of its last version
        again = httpx.get(where["url"], headers={"If-Modified-Since": page.headers["Last-Modified"]}, timeout=5)
        assert again.status_code == 200 and again.headers["Cache-Control"] == "no-store"
    finally:
        where["server"].shutdown()
        thread.join(5)


def test_identical_videos_are_stored_once_and_each_record_names_its_own(tmp_path):
    import hashlib

    result = run_sweep(load_plan([SCENARIOS / "quickstart.yaml"]), tmp_path / "r", target=Target.mock(),
                       report=False)
    stored = sorted((tmp_path / "r" / "videos").glob("*.mp4"))
    named = {r.video for r in result.records}
    assert len(result.records) == 27 and None not in named
    # the mock's placeholder for a face it cannot see is the same bytes for every such case of a speech
    assert len(stored) == len(named) < 27
    for path in stored:
        assert path.stem == hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    assert not list((tmp_path / "r" / "videos").glob(".*"))  # no partial download left behind
