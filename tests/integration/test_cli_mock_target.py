"""`navtalk-sweep run` on the bundled mock: the README's quick-start and the run options."""

from __future__ import annotations

import json

import pytest
import yaml

from navtalk_sweep.cli import main
from tests.conftest import SCENARIOS, read_results


def test_quickstart_runs_offline_and_passes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CI", "true")
    run_dir = tmp_path / "run"
    assert main(["run", str(SCENARIOS / "quickstart.yaml"), "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr()
    assert "27 case(s): 27 passed" in out.out
    assert "[27/27]" in out.err  # plain progress lines, not a live terminal line
    recs = read_results(run_dir)
    assert sorted({r["mode"] for r in recs}) == list(range(1, 10))
    assert all(r["facts"]["video_codec"] == "h264" and r["facts"]["height"] == 512 for r in recs)
    base64_cases = [r for r in recs if r["mode"] in (2, 6, 8)]
    assert all(abs(r["facts"]["duration"] - 5.0) < 0.3 for r in base64_cases)  # the WAV's own length
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "finished" and meta["mock_calls"]["generate"] == 27


def test_dry_run_sends_nothing(tmp_path, capsys):
    assert main(["run", str(SCENARIOS), "--dry-run", "--run-dir", str(tmp_path / "r")]) == 0
    # the grids' 89 cases, and search_tuning.yaml's 14 trials at most
    assert capsys.readouterr().out.startswith("dry run: 89 case(s) and a search of at most 14 video(s), 103 task(s) "
                                              "at most to submit")
    assert not (tmp_path / "r").exists()


def test_reuse_takes_earlier_results_instead_of_paying(tmp_path, capsys):
    first, second = tmp_path / "a", tmp_path / "b"
    assert main(["run", str(SCENARIOS / "every_voice.yaml"), "--run-dir", str(first)]) == 0
    assert main(["run", str(SCENARIOS / "every_voice.yaml"), "--run-dir", str(second), "--reuse", str(first)]) == 0
    meta = json.loads((second / "run.json").read_text())
    assert meta["mock_calls"] == {}  # nothing was submitted or polled
    recs = read_results(second)
    assert all(r["reused_from"] == "a" and r["outcome"] == "passed" for r in recs)
    assert all((second / r["video"]).is_file() for r in recs)  # the run directory stands on its own


def test_baseline_and_repeat_find_regressions_and_flaky_cases(tmp_path, capsys):
    scenario = SCENARIOS / "every_voice.yaml"
    base = tmp_path / "base"
    assert main(["run", str(scenario), "--run-dir", str(base)]) == 0
    config = tmp_path / "faults.yaml"
    config.write_text(yaml.safe_dump({"faults": [{"kind": "task_failed", "when": "voice == 'onyx'"},
                                                 {"kind": "task_failed", "when": "voice == 'echo'", "times": 2}]}))
    new = tmp_path / "new"
    code = main(["run", str(scenario), "--run-dir", str(new), "--baseline", str(base), "--mock-config",
                 str(config), "--repeat", "2"])
    assert code == 1
    comparison = json.loads((new / "comparison.json").read_text())
    kinds = sorted({(i["kind"], i["label"].split("voice=")[1]) for i in comparison["regressions"]})
    assert ("regressed", "onyx") in kinds
    assert {k for k, v in kinds if v == "echo"} <= {"regressed", "flaky"}
    html = (new / "report.html").read_text(encoding="utf-8")
    assert 'id="regressions"' in html


def test_broken_mock_config_is_a_one_line_usage_error(tmp_path, capsys):
    config = tmp_path / "faults.yaml"
    config.write_text("faults: [{kind: explode}]\n")
    assert main(["run", str(SCENARIOS / "every_voice.yaml"), "--mock-config", str(config),
                 "--run-dir", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --mock-config {config}: unknown fault kind 'explode' (kinds: ")
    assert err.count("\n") == 1


@pytest.mark.parametrize("bad", [["--resume", "nowhere"], []])
def test_resume_or_files_are_required(bad, capsys):
    assert main(["run", *bad]) == 2
    assert capsys.readouterr().err.startswith("error: ")


def test_shards_merge_back_into_the_whole_run(tmp_path, capsys):
    for k in (1, 2, 3):
        assert main(["run", str(SCENARIOS / "quickstart.yaml"), "--shard", f"{k}/3", "--run-dir",
                     str(tmp_path / f"s{k}"), "--no-download"]) == 0
    sizes = [len(read_results(tmp_path / f"s{k}")) for k in (1, 2, 3)]
    assert sizes == [9, 9, 9]
    assert main(["merge", *(str(tmp_path / f"s{k}") for k in (1, 2, 3)), "--out", str(tmp_path / "all")]) == 0
    assert len({r["case_id"] for r in read_results(tmp_path / "all")}) == 27
    assert main(["run", str(SCENARIOS / "quickstart.yaml"), "--shard", "4/3"]) == 2
    assert capsys.readouterr().err.endswith("error: --shard must be K/N with 1 <= K <= N, got '4/3'\n")


def test_a_run_stopped_by_a_wrong_licence_resumes_with_the_right_one(tmp_path, capsys):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"licenses": ["sk-test-right-key"]}))
    run_dir = tmp_path / "r"
    args = [str(SCENARIOS / "every_voice.yaml"), "--run-dir", str(run_dir), "--mock-config", str(config)]
    assert main(["run", *args, "--license", "sk-test-wrong-key"]) == 1
    assert {r["outcome"] for r in read_results(run_dir)} <= {"error", "skipped"}
    assert main(["run", "--resume", str(run_dir), "--mock-config", str(config), "--license",
                 "sk-test-right-key"]) == 0
    assert {r["outcome"] for r in read_results(run_dir)} == {"passed"} and len(read_results(run_dir)) == 12


@pytest.mark.parametrize(("answer", "code"), [("n", 2), ("y", 1)])
def test_many_paid_tasks_ask_on_a_terminal(answer, code, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or answer)
    result = main(["run", str(SCENARIOS / "quickstart.yaml"), "--target", "http://127.0.0.1:9", "--license",
                   "sk-test-key", "--run-dir", str(tmp_path / "r"), "--quiet"])
    assert result == code
    assert asked == ["Send 27 paid tasks to http://127.0.0.1:9/generate? [y/N] "]
    if answer == "n":
        assert capsys.readouterr().err == "error: cancelled: nothing was sent\n"
        assert not (tmp_path / "r").exists()
