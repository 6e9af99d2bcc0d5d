"""The CLI's run killed, interrupted or raced: nothing paid twice, nothing lost, one writer.

Apart from ``test_cli_run.py`` because these wait on real-clock mocks and processes: xdist runs one
module per worker, so they overlap with the rest instead of queueing behind it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from tests.conftest import FAKE_LICENSE, SCENARIOS, read_results
from tests.integration.test_cli_run import FAST, cli, kill_at
from tests.servers import mock_process


@pytest.mark.slow  # six SIGKILLs of a real-clock run
def test_killed_runs_resume_without_paying_twice_or_losing_results(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": {"model": "uniform", "low": 0.3, "high": 1.0}}))
    scenario = tmp_path / "many.yaml"
    scenario.write_text(
        "name: many\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech: {h: {text: hello, voice: nova}}\n"
        "matrix:\n  bbox_shift: {from: -9, to: 9}\n  parsing_mode: [jaw, raw]\n", encoding="utf-8")
    run_dir = tmp_path / "run"
    with mock_process("--config", str(config), "--quiet") as base:
        common = ["--target", base, "--license", FAKE_LICENSE, "--concurrency", "6", *FAST]
        journal = run_dir / "journal.jsonl"
        kill_at(["run", str(scenario), "--run-dir", str(run_dir), *common], 0.8, journal)
        assert not (run_dir / "results.jsonl").exists()  # the kill landed mid-run
        for after in (0.6, 0.9, 0.4, 1.1, 0.7):
            kill_at(["run", "--resume", str(run_dir), *common], after, journal)
        # the target is read back from run.json when not named again
        final = cli("run", "--resume", str(run_dir), "--license", FAKE_LICENSE, *FAST)
        calls = httpx.get(f"{base}/__admin/calls").json()
    assert final.returncode in (0, 1), final.stderr
    lines = journal.read_text(encoding="utf-8").splitlines()
    assert sum('"event":"RunStarted"' in line for line in lines) == 7  # seven processes took part
    records = read_results(run_dir)
    assert len(records) == 38 and len({r["case_id"] for r in records}) == 38
    assert max(calls["submits"].values()) == 1  # no case was paid for twice
    finished = [r for r in records if not r["submit_unknown"]]
    assert all(r["outcome"] == "passed" for r in finished)
    assert len(calls["submits"]) == len(records) - sum(
        1 for r in records if r["submit_unknown"] and r["task_id"] is None and r["case_id"] not in calls["submits"])


def test_ctrl_c_saves_what_finished_and_says_how_to_resume(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": {"model": "uniform", "low": 0.2, "high": 4.0}}))
    run_dir = tmp_path / "r"
    with mock_process("--config", str(config), "--quiet") as base:
        proc = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", "run", str(SCENARIOS / "quickstart.yaml"),
                                 "--target", base, "--license", FAKE_LICENSE, "--run-dir", str(run_dir), *FAST],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        journal = run_dir / "journal.jsonl"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until some case has finished, then interrupt
            if journal.exists() and '"event":"CaseFinished"' in journal.read_text(encoding="utf-8"):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=30)
        finally:  # a hung child must not outlive the test
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    assert "Traceback" not in err and f"continue with: navtalk-sweep run --resume {run_dir}" in err
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["status"] == "interrupted"
    finished = read_results(run_dir)
    assert 1 <= len(finished) < 27


def test_a_second_writer_on_a_run_directory_is_refused_and_a_killed_one_leaves_no_lock(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": "fixed:600"}))  # the first run stays busy until killed
    with mock_process("--config", str(config), "--quiet") as base:
        run_dir = tmp_path / "run"
        args = ["run", str(SCENARIOS / "every_voice.yaml"), "--target", base, "--run-dir", str(run_dir),
                "--license", FAKE_LICENSE, *FAST]
        first = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", *args], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
        try:
            journal = run_dir / "journal.jsonl"
            deadline = time.monotonic() + 30
            while not (journal.exists() and b"CaseSubmitted" in journal.read_bytes()):
                assert time.monotonic() < deadline and first.poll() is None, "the first run did not start"
                time.sleep(0.02)
            for second in (["run", "--resume", str(run_dir), "--license", FAKE_LICENSE, "--yes"], args):
                proc = cli(*second)
                assert proc.returncode == 2, proc.stderr
                assert proc.stderr.startswith(f"error: {run_dir}: in use by pid {first.pid} on ")
                assert proc.stderr.count("\n") == 1 and "one writer per run directory" in proc.stderr
            submits = httpx.get(f"{base}/__admin/calls").json()["submits"]
            assert set(submits.values()) == {1}  # the refused writers sent nothing
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        # the kernel dropped the lock with the process: a resume goes ahead (and pays for nothing again)
        proc = cli("run", "--resume", str(run_dir), "--license", FAKE_LICENSE, "--yes", "--case-timeout", "1",
                   "--quiet")
        assert proc.returncode == 1 and "in use by" not in proc.stderr, proc.stderr
        assert set(httpx.get(f"{base}/__admin/calls").json()["submits"].values()) == {1}
