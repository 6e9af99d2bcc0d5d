"""Scenario files as pytest tests, seen as a user's test suite sees them (pytester)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from navtalk_sweep.results import RunLock
from tests.conftest import SCENARIOS

pytest_plugins = ["pytester"]

FAILING = """
name: slowish
tags: [slow]
inputs:
  faces: {girl: {character_name: girl2}}
  speech: {hi: {text: "Hello there.", voice: nova}}
matrix:
  bbox_shift: {from: 0, to: 9}
expect:
  within: 1
"""


@pytest.fixture
def project(pytester):
    shutil.copytree(SCENARIOS, pytester.path / "scenarios")
    return pytester


@pytest.fixture
def plugin_alone(monkeypatch):
    """``plugin_alone(*others)``: the arguments of an inner pytest in a subprocess that loads our plugin (and
    ``others``) of the installed ones, no other: each costs start-up, 4-5 s a session with schemathesis,
    playwright, hypothesis... The setting holds for in-process runs after the call too."""

    def args(*others: str) -> list[str]:
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        return [arg for plugin in ("navtalk_sweep.plugin", *others) for arg in ("-p", plugin)]

    return args


def results(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "journal.jsonl").read_text(encoding="utf-8").splitlines()]


def test_quickstart_is_27_tests_run_together(project):
    result = project.runpytest("scenarios/quickstart.yaml", "--navtalk-run-dir", "run", "--junitxml", "j.xml",
                               "--navtalk-concurrency", "32")
    result.assert_outcomes(passed=27)
    result.stdout.fnmatch_lines(["navtalk-sweep: 27 case(s): 27 passed", "navtalk-sweep: report *report.html"])
    run = project.path / "run"
    assert len(results(run)) == 27 and (run / "report.html").is_file()
    # concurrent: the sweep ends with its slowest case, not after the sum of all cases (virtual clock)
    journal = events(run)
    finished = next(e["t"] for e in journal if e["event"] == "RunFinished")
    slowest = max(r["time_to_done"] for r in results(run))
    total = sum(r["time_to_done"] for r in results(run))
    assert finished <= slowest + 27 / 5 + 1  # the slowest case, after 27 submits at 5 a second
    assert finished < total / 10
    # --junitxml lists the same cases, with their parameters as properties
    cases = ET.parse(project.path / "j.xml").getroot().iter("testcase")
    props = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases}
    assert len(props) == 27
    one = props["image+tts voice=nova face=photo speech=welcome bbox_shift=3"]
    assert one["bbox_shift"] == "3" and one["mode"] == "4" and one["face"] == "photo" and len(one["case_id"]) == 12


def test_markers_and_keywords_select_cases(project):
    project.runpytest("scenarios/quickstart.yaml", "-m", "mode4 and not slow").assert_outcomes(passed=3)
    project.runpytest("scenarios/quickstart.yaml", "-m", "voice_nova").assert_outcomes(passed=9)  # the tts cases
    project.runpytest("scenarios/quickstart.yaml", "-m", "smoke").assert_outcomes(passed=27)  # a scenario tag
    result = project.runpytest("scenarios/quickstart.yaml", "-k", "bbox_shift=3", "--navtalk-run-dir", "k")
    result.assert_outcomes(passed=9)
    assert {r["params"]["bbox_shift"] for r in results(project.path / "k")} == {3}  # only these were sent
    # exact values: bbox_shift=3 never matches -3 or 30
    project.runpytest("scenarios/quickstart.yaml", "-k", "bbox_shift=-3 and mode1").assert_outcomes(passed=1)


def test_a_failed_case_says_what_was_sent_what_happened_and_which_check_failed(project):
    project.makefile(".yaml", slowish=FAILING)
    result = project.runpytest("slowish.yaml", "-k", "bbox_shift=2", "--navtalk-run-dir", "f")
    result.assert_outcomes(failed=1)
    # a failed test is no reason to stop the sweep: the run finished
    assert json.loads((project.path / "f" / "run.json").read_text())["status"] == "finished"
    result.stdout.fnmatch_lines([
        "character+tts voice=nova bbox_shift=2: failed",
        '  request: {"character_name": "girl2", "content": "Hello there.", "voice": "nova", "bbox_shift": 2}',
        "  status:  * s processing -> * s done",
        "  check within: * s (limit 1 s)",
        "  case *, task *",
    ])
    assert "Traceback" not in result.stdout.str() and "sk-test" not in result.stdout.str()


def test_last_failed_reruns_only_the_failed_cases(project):
    project.makefile(".yaml", slowish=FAILING.replace("within: 1", "within: 1\n  status: done"))
    project.makefile(".yaml", fine=FAILING.replace("within: 1", "within: 60").replace("slowish", "fine"))
    project.runpytest("slowish.yaml", "fine.yaml").assert_outcomes(passed=10, failed=10)
    again = project.runpytest("slowish.yaml", "fine.yaml", "--lf", "--navtalk-run-dir", "lf")
    again.assert_outcomes(failed=10)
    assert {r["scenario"] for r in results(project.path / "lf")} == {"slowish"}


def test_x_stops_submitting_new_cases(project):
    project.makefile(".yaml", slowish=FAILING.replace("within: 1", "within: 0.01"))
    config = project.makefile(".yaml", mock="timing: 'fixed:0.2'\n")
    result = project.runpytest("slowish.yaml", "-x", "--navtalk-mock-clock", "real", "--navtalk-mock-config",
                               str(config), "--navtalk-concurrency", "1", "--navtalk-run-dir", "x")
    result.assert_outcomes(failed=1)
    records = results(project.path / "x")
    assert len(records) == 10  # every case has a record, the unsent ones resumable
    sent = [r for r in records if r["task_id"]]
    assert len(sent) < 10 and all(r["outcome"] == "skipped" for r in records if not r["task_id"])
    meta = json.loads((project.path / "x" / "run.json").read_text())
    assert meta["status"] == "stopped" and meta["stop_reason"] == "the pytest session stopped"


def test_a_broken_scenario_file_is_one_collection_error(project):
    project.makefile(".yaml", broken="name: x\nmatrix:\n  bbox_shfit: [1]\n")
    result = project.runpytest("broken.yaml")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["broken.yaml:3:3: unknown field 'bbox_shfit' (did you mean 'bbox_shift'?)"])
    assert "Traceback" not in result.stdout.str()


def test_the_ini_option_names_scenario_files(project):
    project.makeini("[pytest]\nnavtalk_scenarios =\n    scenarios/every_voice.yaml\n")
    result = project.runpytest("scenarios")
    result.assert_outcomes(passed=12)  # that file only: other YAML files are left alone


def test_regressions_against_a_baseline_fail_the_session(project):
    project.runpytest("scenarios/every_voice.yaml", "--navtalk-run-dir", "base").assert_outcomes(passed=12)
    config = project.makefile(".yaml", mock="faults:\n  - {kind: task_failed, when: 'voice == \"onyx\"'}\n")
    result = project.runpytest("scenarios/every_voice.yaml", "--navtalk-baseline", "base", "--navtalk-mock-config",
                               str(config), "-k", "not voice=onyx", "--navtalk-run-dir", "new")
    # the onyx cases were deselected, so nothing failed here, but the baseline misses them: regressions
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(["*regression(s)*", "*missing*"])
    assert result.ret == 1


def test_a_busy_run_directory_stops_the_session_with_exit_2(project, plugin_alone):
    run_dir = project.path / "busy"
    run_dir.mkdir()
    with RunLock(run_dir):
        result = project.runpytest_subprocess("scenarios/every_voice.yaml", *plugin_alone(), "--navtalk-run-dir",
                                              str(run_dir))
    assert result.ret == 2
    result.stdout.fnmatch_lines([f"*error: {run_dir}: in use by pid * on * (one writer per run directory)*"])


def test_xdist_gives_the_same_outcomes_one_run_directory_and_one_report(project, plugin_alone):
    project.makefile(".yaml", slowish=FAILING)
    args = ["scenarios/quickstart.yaml", "slowish.yaml", "-p", "no:cacheprovider"]
    # the plain session in this process (a child costs an interpreter and every plugin's import); the spread one
    # needs its own process, as xdist's workers do
    project.runpytest(*args, "--navtalk-run-dir", "one").assert_outcomes(passed=27, failed=10)
    spread = project.runpytest_subprocess(*args, *plugin_alone("xdist.plugin"), "-n", "2", "--navtalk-run-dir", "two")
    spread.assert_outcomes(passed=27, failed=10)
    spread.stdout.fnmatch_lines(["navtalk-sweep: 37 case(s): 10 failed, 27 passed (merged from the workers)"])
    one, two = project.path / "one", project.path / "two"
    outcome = lambda run: sorted((r["case_id"], r["label"], r["outcome"]) for r in results(run))
    assert outcome(one) == outcome(two)
    assert (two / "report.html").is_file() and (two / "junit.xml").is_file()
    # each case was sent once, by one worker
    workers = sorted(p.name for p in two.glob("gw*"))
    assert workers == ["gw0", "gw1"]
    sent = [r["case_id"] for w in workers for r in results(two / w) if r["task_id"]]
    assert len(sent) == len(set(sent)) == 37


def test_ctrl_c_leaves_a_resumable_run_directory(project, plugin_alone):
    import signal
    import subprocess
    import sys
    import time

    config = project.makefile(".yaml", mock="timing: 'fixed:60'\n")
    run_dir = project.path / "interrupted"
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "scenarios/every_voice.yaml", "-p", "no:cacheprovider",
                             *plugin_alone(), "--navtalk-mock-clock", "real", "--navtalk-mock-config", str(config),
                             "--navtalk-run-dir", str(run_dir)], cwd=project.path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    journal = run_dir / "journal.jsonl"
    deadline = time.monotonic() + 60
    while not (journal.exists() and "CaseSubmitted" in journal.read_text()):
        assert time.monotonic() < deadline and proc.poll() is None, "the sweep did not start"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=60)
    finally:  # a hung child must not outlive the test (its Popen would warn in whichever test runs next)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2 and "Traceback" not in out, out  # pytest's exit code for an interrupted session
    records = results(run_dir)
    assert len(records) == 12 and {r["outcome"] for r in records} == {"skipped"}
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "stopped" and [r for r in records if r["task_id"]]  # submitted ones are resumable
    with RunLock(run_dir):  # the lock went with the process
        pass


def test_a_test_run_stays_on_the_mock_even_when_the_environment_names_the_service(project, monkeypatch):
    monkeypatch.setenv("NAVTALK_GENERATE_URL", "http://127.0.0.1:9/generate")  # would refuse every connection
    monkeypatch.setenv("NAVTALK_STATUS_URL", "http://127.0.0.1:9/query_status")
    project.runpytest("scenarios/every_voice.yaml", "--navtalk-run-dir", "env").assert_outcomes(passed=12)
    assert json.loads((project.path / "env" / "run.json").read_text())["target"]["kind"] == "mock"


def test_k_selects_what_the_label_shows_and_ini_patterns_may_be_absolute(project):
    # a text's own voice is in the label (voice=nova) though no axis sets it: -k selects on it too
    result = project.runpytest("scenarios/quickstart.yaml", "--co", "-q", "-k", "bbox_shift=3 and voice=nova")
    result.stdout.fnmatch_lines(["3/27 tests collected (24 deselected)*"])
    project.makeini(f"[pytest]\nnavtalk_scenarios =\n    {project.path / 'scenarios' / 'every_voice.yaml'}\n")
    project.runpytest("--co", "-q").stdout.fnmatch_lines(["12 tests collected*"])  # NotImplementedError before
    project.makeini("[pytest]\nnavtalk_scenarios =\n    ../elsewhere/*.yaml\n")
    result = project.runpytest("--co", "-q", "-W", "default::pytest.PytestConfigWarning", "scenarios")
    result.stdout.fnmatch_lines(["*navtalk_scenarios: '../elsewhere/*.yaml' names no file*"])


def test_a_paid_session_has_the_cli_s_budget_and_confirmation(project, monkeypatch, plugin_alone):
    # a loopback port that is not navtalk-sweep's mock may be a proxy to the paid service (issue 20, item 11)
    monkeypatch.setenv("NAVTALK_LICENSE", "sk-test-paid")
    paid = ["scenarios/quickstart.yaml", "--navtalk-target", "http://127.0.0.1:9", "-p", "no:cacheprovider"]
    refused = project.runpytest(*paid, "--navtalk-run-dir", "r")
    assert refused.ret == 2
    refused.stdout.fnmatch_lines([("*error: about to send 27 paid tasks to http://127.0.0.1:9/generate; pass "
                                  "--navtalk-yes to confirm (or --navtalk-max-tasks N for a budget)*")])
    assert not (project.path / "r" / "journal.jsonl").exists()  # nothing sent, nothing written
    bad = project.runpytest(*paid, "--navtalk-max-tasks", "0")
    assert bad.ret == 2
    bad.stdout.fnmatch_lines(["*error: --navtalk-max-tasks must be at least 1, got 0*"])
    # a budget under the question's threshold runs without asking, and pays for no more than it
    budget = project.runpytest(*paid, "--navtalk-run-dir", "b", "--navtalk-max-tasks", "3", "--navtalk-max-backoff",
                               "0.05", "--navtalk-request-timeout", "2")
    submits = [e for e in events(project.path / "b") if e["event"] == "SubmitStarted"]
    assert len({e["key"] for e in submits}) == 3, budget.stdout.str()
    # on an xdist worker (one is enough) the refusal is each item's failure (a worker's exit is a crash the
    # controller restarts)
    spread = project.runpytest_subprocess(*paid, *plugin_alone("xdist.plugin"), "-n", "1")
    spread.assert_outcomes(failed=27)
    assert "crashed" not in spread.stdout.str()
    spread.stdout.fnmatch_lines(["*the navtalk sweep did not start: error: about to send 27 paid tasks*"])


def test_the_docs_pytest_examples_select_what_they_say(project):
    # docs/pytest.md's ini block and its shell lines, as written, collected (running them is the tests above)
    import re

    from tests.integration.test_docs_examples import ROOT, SHELL

    text = (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8")
    project.makefile(".ini", pytest=re.search(r"```ini\n(.*?)```", text, re.DOTALL).group(1))
    lines = [argv for where, argv in SHELL if where == "docs/pytest.md" and argv[0] == "pytest"]
    assert len(lines) == 4
    collected = {}
    for argv in lines:
        result = project.runpytest(*argv[1:], "--co", "-q")
        assert result.ret == 0, (argv, result.stdout.str())
        found = re.search(r"(\d+)(?:/\d+)? tests? (?:collected|selected)", result.stdout.str())
        collected[" ".join(argv[1:])] = int(found.group(1)) if found else 0
    assert collected["scenarios/quickstart.yaml"] == 27  # as its comment says
    assert all(n > 0 for n in collected.values()), collected
