"""Misuse answered in one line with exit 2, before anything is written or paid (issue 20)."""

from __future__ import annotations

import pytest

from navtalk_sweep.cli import main
from tests.conftest import SCENARIOS

QUICK = str(SCENARIOS / "quickstart.yaml")


def _one_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line]
    assert len(err) == 1, err
    return err[0]


@pytest.mark.parametrize(("flag", "value", "says"), [
    ("--poll-interval", "0", "--poll-interval must be more than 0 seconds, got 0"),
    ("--case-timeout", "-1", "--case-timeout must be more than 0 seconds, got -1"),
    ("--max-tasks", "0", "--max-tasks must be at least 1, got 0"),
    ("--max-tasks", "-1", "--max-tasks must be at least 1, got -1"),
    ("--max-speech-seconds", "-1", "--max-speech-seconds must be more than 0 seconds, got -1"),
    ("--first-poll-quantile", "2", "--first-poll-quantile must be between 0 (excluded) and 1, got 2"),
    ("--max-backoff", "0", "--max-backoff must be more than 0 seconds, got 0"),
])
def test_a_numeric_option_out_of_range_is_one_line_and_nothing_is_written(tmp_path, capsys, flag, value, says):
    run_dir = tmp_path / "run"
    assert main(["run", QUICK, "--run-dir", str(run_dir), flag, value]) == 2
    assert _one_line(capsys) == f"error: {says}"
    assert not run_dir.exists()


def test_a_baseline_that_is_not_a_run_stops_before_the_first_request(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", QUICK, "--run-dir", str(run_dir), "--baseline", str(tmp_path / "nodir")]) == 2
    assert "--baseline" in _one_line(capsys) and not run_dir.exists()


def test_a_finished_run_is_not_overwritten_unless_told(tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text('{"case_id": "kept"}\n', encoding="utf-8")
    assert main(["run", QUICK, "--run-dir", str(run_dir)]) == 2
    assert "holds a run already" in _one_line(capsys)
    assert (run_dir / "results.jsonl").read_text(encoding="utf-8") == '{"case_id": "kept"}\n'
    assert main(["run", QUICK, "--run-dir", str(run_dir), "--replace", "--dry-run"]) == 0


@pytest.mark.parametrize("flag", ["--run-dir", "--out"])
def test_a_file_where_a_directory_goes_is_one_line(tmp_path, capsys, flag):
    path = tmp_path / "a-file"
    path.write_text("x", encoding="utf-8")
    assert main(["run", QUICK, flag, str(path)]) == 2
    assert "is a file, not a directory" in _one_line(capsys)


def test_a_run_directory_that_cannot_be_made_is_one_line(capsys):
    assert main(["run", QUICK, "--run-dir", "/proc/nope/run"]) == 2
    assert "/proc/nope" in _one_line(capsys)


def test_drift_refuses_a_negative_slack(tmp_path, capsys):
    assert main(["drift", str(tmp_path), "--new", str(tmp_path), "--slack", "-5"]) == 2
    assert _one_line(capsys) == "error: --slack must be 0 or more, got -5"


def test_the_strategies_without_hypothesis_say_what_to_install():
    import subprocess
    import sys

    code = "import sys; sys.modules['hypothesis'] = None; import navtalk_sweep.strategies"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == ("ImportError: navtalk_sweep.strategies needs Hypothesis: pip install "
                                                    "'navtalk-sweep[test]' (or pip install hypothesis)")


def test_a_mock_on_a_port_in_use_is_one_line_before_any_banner(capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        assert main(["mock", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --port {port}: cannot listen on 127.0.0.1:{port}") and err.count("\n") == 1, err


@pytest.mark.parametrize(("value", "says"), [
    ("[true]", "bbox_shift[0]: input should be a valid integer, got True"),
    ("[1.5]", "bbox_shift[0]: input should be a valid integer, got 1.5"),
    ("[null]", "bbox_shift[0]: input should be a valid integer, got None"),
])
def test_a_value_of_the_wrong_type_names_its_field_and_is_never_sent_as_another(tmp_path, capsys, value, says):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech: {h: {text: hi, voice: nova}}\n"
                    f"matrix:\n  bbox_shift: {value}\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    assert _one_line(capsys) == f"{path}:6:16: {says}"


def test_a_torn_last_journal_line_is_dropped_before_resuming_appends(tmp_path):
    from navtalk_sweep.results import Journal

    path = tmp_path / "journal.jsonl"
    whole = '{"event": "RunStarted", "t": 0}\n'
    path.write_text(whole + '{"event": "CaseSubm', encoding="utf-8")  # a writer killed mid-line
    journal = Journal(tmp_path)
    journal.close()
    assert path.read_text(encoding="utf-8") == whole  # the next event starts a line of its own


def test_dry_run_and_resume_count_what_would_be_sent(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["run", QUICK, "--run-dir", str(tmp_path / "dry"), "--dry-run", "--max-tasks", "10"]) == 0
    assert capsys.readouterr().out.startswith("dry run: 27 case(s), 10 task(s) to submit")  # the budget counts
    assert main(["run", QUICK, "--run-dir", str(run_dir), "--max-tasks", "10", "--quiet"]) == 0  # 17 skipped, none failed
    capsys.readouterr()
    assert main(["run", "--resume", str(run_dir), "--dry-run"]) == 0
    assert capsys.readouterr().out.startswith("dry run: 27 case(s), 17 task(s) to submit")  # not the 10 done


def test_merging_a_run_into_itself_is_refused_and_leaves_it_whole(tmp_path, capsys):
    run_dir = tmp_path / "a"
    run_dir.mkdir()
    (run_dir / "results.jsonl").write_text('{"case_id": "kept"}\n', encoding="utf-8")
    assert main(["merge", str(run_dir), "--out", str(run_dir)]) == 2
    assert _one_line(capsys) == f"error: --out {run_dir}: is one of the runs to merge; merge into a new directory"
    assert (run_dir / "results.jsonl").read_text(encoding="utf-8") == '{"case_id": "kept"}\n'


@pytest.mark.parametrize("clock", ["real", "virtual"])
def test_a_killed_bundled_mock_run_resumes_on_its_own_clock_and_sends_its_in_flight_cases_again(tmp_path, clock):
    import json

    import yaml

    from tests.conftest import read_results
    from tests.integration.test_cli_run import FAST, cli, kill_at

    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": {"model": "uniform", "low": 0.5, "high": 1.5}}))
    run_dir = tmp_path / "run"
    args = ["run", str(SCENARIOS / "every_voice.yaml"), "--run-dir", str(run_dir), "--mock-clock", clock,
            "--mock-config", str(config), "--seed", "3", "--concurrency", "4", *FAST]
    kill_at(args, 0.5 if clock == "real" else 0.0, run_dir / "journal.jsonl")
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["target"]["clock"] == clock and meta["target"]["seed"] == 3  # kept for the resume
    assert meta["target"]["mock_config"]["timing"]["low"] == 0.5
    resumed = cli("run", "--resume", str(run_dir), *FAST, timeout=60)  # spun for ever before (issue 20, item 2)
    assert resumed.returncode == 0, resumed.stderr
    records = read_results(run_dir)
    assert len(records) == 12 and {r["outcome"] for r in records} == {"passed"}  # no in-flight case became an error


def test_a_loopback_mock_asks_for_no_confirmation_and_a_paid_looking_target_does(tmp_path):
    from tests.integration.test_cli_run import FAST, cli
    from tests.servers import mock_process

    scenario = tmp_path / "many.yaml"
    scenario.write_text(
        "name: many\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech: {h: {text: hello, voice: nova}}\n"
        "matrix:\n  bbox_shift: {from: -9, to: 9}\n  parsing_mode: [jaw, raw]\n", encoding="utf-8")
    fast = [a for a in FAST if a != "--yes"]
    with mock_process("--timing", "fixed:0.2", "--quiet") as base:
        # the README's replay command, as written: no --yes, no terminal, 38 "paid" tasks to a local mock
        proc = cli("run", str(scenario), "--target", base, "--license", "sk-test-replay", "--run-dir",
                   str(tmp_path / "r"), *fast)
    assert proc.returncode == 0, proc.stderr
    # a loopback port that is not navtalk-sweep's mock may be a proxy to the paid service: it asks
    proc = cli("run", str(scenario), "--target", "http://127.0.0.1:9", "--license", "sk-test-x", "--run-dir",
               str(tmp_path / "r2"), *fast)
    assert proc.returncode == 2 and "pass --yes to confirm" in proc.stderr


def test_marks_refuse_a_zero_rating_unknown_cases_and_a_missing_file_in_one_line(tmp_path, capsys):
    import json

    from navtalk_sweep.session import Target, load_plan, run_sweep

    run_dir = tmp_path / "run"
    records = run_sweep(load_plan([SCENARIOS / "every_voice.yaml"]), run_dir, target=Target.mock()).records
    before = (run_dir / "results.jsonl").read_bytes()
    for marks, says in (
        ({"marks": [{"key": records[0].key, "rating": 0}]}, "must be 1 to 5, got '0'"),
        ({"marks": [{"key": "nope", "rating": 3}]}, "1 mark(s) for cases not in"),
    ):
        path = tmp_path / "marks.json"
        path.write_text(json.dumps(marks), encoding="utf-8")
        assert main(["marks", str(run_dir), str(path)]) == 2
        assert says in _one_line(capsys)
    assert main(["marks", str(run_dir), str(tmp_path / "missing.json")]) == 2
    assert "no such file" in _one_line(capsys)
    assert (run_dir / "results.jsonl").read_bytes() == before  # nothing written


@pytest.mark.parametrize(("make", "entry", "says"), [
    (lambda d: (d / "adir").mkdir(), "faces: {f: {file: adir}}", "adir is a directory: name a file in it"),
    (lambda d: (d / "e.wav").write_bytes(b""), "speech: {s: {audio_file: e.wav}}", "e.wav is empty (0 bytes)"),
    (lambda d: (d / "x.jpg").write_bytes(bytes(range(200))), "faces: {f: {file: x.jpg}}",
     "x.jpg is not an image: its first bytes are no image, video or audio this tool knows"),
    (lambda d: (d / "x.wav").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64)), "speech: {s: {audio_file: x.wav}}",
     "x.wav is not audio or a video: its first bytes are those of an image"),
])
def test_a_local_file_that_is_not_what_its_name_says_is_blamed_where_it_is_declared(tmp_path, capsys, make, entry,
                                                                                     says):
    import shutil

    make(tmp_path)
    shutil.copy(SCENARIOS / "media" / "6.jpg", tmp_path / "face.jpg")
    shutil.copy(SCENARIOS / "media" / "Obama_5s.wav", tmp_path / "ok.wav")
    faces, speech = "faces: {f: {file: face.jpg}}", "speech: {s: {audio_file: ok.wav}}"
    if entry.startswith("faces"):
        faces = entry
    else:
        speech = entry
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\ninputs:\n  {faces}\n  {speech}\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 2
    line = _one_line(capsys)
    assert line.startswith(f"{path}:{3 if entry.startswith('faces') else 4}:") and says in line, line


def test_a_file_named_twice_is_loaded_once(capsys):
    assert main(["validate", QUICK, QUICK, str(SCENARIOS)]) == 0
    assert "also defined in" not in capsys.readouterr().err


def test_the_size_errors_point_at_the_scenario_line(tmp_path, capsys):
    head = "name: big\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech: {h: {text: hi, voice: nova}}\n"
    pairwise = tmp_path / "p.yaml"
    pairwise.write_text(head + "matrix:\n  bbox_shift: {from: 0, to: 1000}\n  extra_margin: {from: 0, to: 1000}\n"
                        "sample: {method: pairwise}\n", encoding="utf-8")
    assert main(["validate", str(pairwise)]) == 2
    assert _one_line(capsys).startswith(f"{pairwise}:8:1: scenario 'big': pairwise would have to cover")
    many = tmp_path / "m.yaml"
    many.write_text(head + "matrix:\n  bbox_shift: {from: 0, to: 1000}\n", encoding="utf-8")
    assert main(["run", str(many), "--max-cases", "10", "--dry-run"]) == 2
    assert _one_line(capsys).startswith(f"{many}:5:1: 1001 cases to run, over the limit of 10")
