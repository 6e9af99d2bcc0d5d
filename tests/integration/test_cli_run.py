"""The CLI end to end against `navtalk-sweep mock` on loopback, faults switched on."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from navtalk_sweep import analysis
from tests.conftest import FAKE_LICENSE, SCENARIOS, read_results, small_tuning
from tests.servers import mock_process

FAULTS = {
    "timing": {"model": "uniform", "low": 0.2, "high": 0.6},
    "faults": [
        {"kind": "http_503", "endpoint": "query", "probability": 0.2},
        {"kind": "rate_limit", "endpoint": "submit", "probability": 0.2, "retry_after": 0.2},
        {"kind": "drop", "endpoint": "submit", "times": 1, "after": 3},
        {"kind": "malformed_json", "endpoint": "query", "times": 2},
        {"kind": "task_failed", "when": "bbox_shift > 0", "message": "face not found"},
        {"kind": "slow", "endpoint": "query", "probability": 0.05, "delay": 0.3},
    ],
}
FAST = ["--first-poll", "0.3", "--poll-interval", "0.2", "--max-poll-interval", "0.5", "--submit-rate", "50",
        "--max-backoff", "1", "--yes", "--quiet"]


def cli(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navtalk_sweep.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, check=False)


@pytest.fixture
def faulty_server(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump(FAULTS), encoding="utf-8")
    with mock_process("--config", str(config), "--seed", "4", "--quiet") as base:
        yield base


def test_run_against_a_faulty_server_records_every_case(faulty_server, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli("run", str(SCENARIOS / "quickstart.yaml"), str(SCENARIOS / "contract_violations.yaml"),
               "--target", faulty_server, "--run-dir", str(run_dir), *FAST, env={"NAVTALK_LICENSE": FAKE_LICENSE})
    assert proc.returncode == 1, proc.stderr  # bbox_shift=3 cases fail by design
    assert "Traceback" not in proc.stderr
    records = read_results(run_dir)
    assert len(records) == 27 + 5
    assert all(r["outcome"] in ("passed", "failed", "error", "timeout", "rejected") for r in records)
    by_outcome = {r["outcome"] for r in records}
    assert "passed" in by_outcome and "failed" in by_outcome
    failed = [r for r in records if r["params"].get("bbox_shift") == 3 and not r["submit_unknown"]]
    assert all(r["error"] == "face not found" for r in failed)
    negatives = [r for r in records if r["scenario"] != "quickstart"]
    assert all(r["outcome"] == "passed" for r in negatives)  # refused, as they should be
    calls = httpx.get(f"{faulty_server}/__admin/calls").json()
    assert max(calls["submits"].values()) == 1
    for name in ("report.html", "junit.xml", "journal.jsonl", "run.json"):
        assert (run_dir / name).exists()


def test_the_licence_appears_in_no_file_the_run_writes(faulty_server, tmp_path):
    run_dir = tmp_path / "run"
    proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--target", faulty_server, "--run-dir", str(run_dir),
               "--license", FAKE_LICENSE, *FAST)
    assert proc.returncode in (0, 1), proc.stderr
    assert FAKE_LICENSE not in proc.stdout + proc.stderr
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        assert FAKE_LICENSE.encode() not in path.read_bytes(), path


def test_rejected_licence_stops_with_exit_1(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"licenses": ["sk-test-the-right-one"], "timing": "fixed:0.2"}))
    with mock_process("--config", str(config), "--quiet") as base:
        proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--target", base, "--run-dir", str(tmp_path / "r"),
                   "--license", "sk-test-wrong-one", "--concurrency", "1", *FAST)
        calls = httpx.get(f"{base}/__admin/calls").json()["calls"]
    assert proc.returncode == 1
    assert "run stopped: licence rejected" in proc.stdout
    assert calls["generate"] == 1


def test_no_licence_for_a_real_target_is_a_usage_error(tmp_path):
    proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--target", "http://127.0.0.1:9",
               env={"NAVTALK_LICENSE": ""})
    assert proc.returncode == 2
    assert proc.stderr == "error: no licence: set NAVTALK_LICENSE or pass --license (the mock target needs none)\n"


def test_dead_server_gives_errors_not_a_traceback(tmp_path):
    proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--target", "http://127.0.0.1:9", "--run-dir",
               str(tmp_path / "r"), "--license", FAKE_LICENSE, *FAST)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "run stopped: 5 identical errors in a row: submit: ConnectError" in proc.stdout
    records = read_results(tmp_path / "r")
    assert len(records) == 12
    assert {r["outcome"] for r in records} <= {"error", "skipped"}


def test_many_paid_tasks_need_confirmation_without_a_terminal(tmp_path):
    proc = cli("run", str(SCENARIOS / "bbox_margin_tuning.yaml"), "--target", "http://127.0.0.1:9",
               "--license", FAKE_LICENSE)
    assert proc.returncode == 2
    assert "pass --yes to confirm" in proc.stderr


def kill_at(args: list[str], after: float, journal: Path) -> None:
    """Start a run, wait until it has journaled something new, let it go on ``after`` s, SIGKILL it."""
    before = journal.stat().st_size if journal.exists() else 0
    proc = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if journal.exists() and journal.stat().st_size > before:
            break
        time.sleep(0.02)
    time.sleep(after)  # where the kill lands, not a timing assertion
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def test_mock_server_logs_one_line_per_request_even_for_a_dropped_connection(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"faults": [{"kind": "drop", "endpoint": "query", "times": 1}]}))
    log: list[str] = []
    with mock_process("--config", str(config), log=log) as base:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.get(f"{base}/query_status", params={"license": FAKE_LICENSE, "task_id": "x"})
        httpx.get(f"{base}/query_status", params={"license": FAKE_LICENSE, "task_id": "x"})
    requests = [line for line in log if line.startswith("GET /query_status")]
    assert requests == ["GET /query_status?license=***&task_id=x -> drop",
                        "GET /query_status?license=***&task_id=x -> 404"]
    assert not any("Traceback" in line or FAKE_LICENSE in line for line in log)


def test_local_face_files_are_uploaded_to_the_standalone_mock_and_replay_on_another_port(tmp_path):
    scenario = str(small_tuning(tmp_path, step=18))
    with mock_process("--timing", "fixed:0.3", "--quiet") as base:
        proc = cli("run", scenario, "--target", base, "--run-dir", str(tmp_path / "r"), "--license", FAKE_LICENSE,
                   "--no-metrics", "--record", *FAST)
        calls = httpx.get(f"{base}/__admin/calls").json()["calls"]
    # the recording names each uploaded face by its content, not by the port it was served at (issue 20, item 9)
    with mock_process("--replay", str(tmp_path / "r"), "--quiet") as other:
        assert other != base
        again = cli("run", scenario, "--target", other, "--run-dir", str(tmp_path / "again"), "--license",
                    FAKE_LICENSE, "--no-metrics", *FAST)
        replayed = httpx.get(f"{other}/__admin/calls").json()["calls"]
    assert again.returncode == 0, again.stdout + again.stderr
    assert replayed.get("unrecorded", 0) == 0
    assert {r["case_id"]: r["task_id"] for r in read_results(tmp_path / "again")} == \
        {r["case_id"]: r["task_id"] for r in read_results(tmp_path / "r")}
    assert proc.returncode == 0, proc.stdout + proc.stderr
    records = read_results(tmp_path / "r")
    assert len(records) == 4 and {r["outcome"] for r in records} == {"passed"}
    assert all(r["request"]["image_url"].startswith(f"{base}/media/") for r in records)
    assert all(abs(r["facts"]["duration"] - 1.0) < 0.3 for r in records)  # the speech file's length
    if analysis.available():  # the mock could see the uploaded portrait: its results are that face, 624 px
        assert {(r["facts"]["width"], r["facts"]["fps"]) for r in records} == {(624, 25)}
    assert not any("metrics" in r for r in records)  # --no-metrics
    assert calls["results"] == 4


def test_local_files_for_a_target_that_cannot_take_them_is_a_usage_error(tmp_path):
    proc = cli("run", str(SCENARIOS / "bbox_margin_tuning.yaml"), "--target", "http://127.0.0.1:9", "--run-dir",
               str(tmp_path / "r"), "--license", FAKE_LICENSE, *FAST)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_the_two_url_variables_make_the_default_target(faulty_server, tmp_path):
    env = {"NAVTALK_LICENSE": FAKE_LICENSE, "NAVTALK_GENERATE_URL": f"{faulty_server}/generate",
           "NAVTALK_STATUS_URL": f"{faulty_server}/query_status"}
    proc = cli("run", str(SCENARIOS / "every_voice.yaml"), "--run-dir", str(tmp_path / "r"), *FAST, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    meta = json.loads((tmp_path / "r" / "run.json").read_text())
    assert meta["target"] == {"kind": "url", "generate_url": f"{faulty_server}/generate",
                              "status_url": f"{faulty_server}/query_status", "license": "sk-…cret"}
    assert httpx.get(f"{faulty_server}/__admin/calls").json()["calls"]["generate"] >= 12


def test_standalone_mock_reads_loopback_media_for_real(tmp_path):
    import functools
    import http.server
    import threading

    from tests.conftest import DATA

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DATA))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    try:
        audio = f"http://127.0.0.1:{files.server_address[1]}/obama_2s_mono.wav"
        with mock_process("--quiet") as base:
            body = {"license": FAKE_LICENSE, "character_name": "girl2"}
            near = httpx.post(f"{base}/generate", json={**body, "audio_url": audio}).json()["task_id"]
            far = httpx.post(f"{base}/generate", json={**body, "audio_url": "https://example.com/a.mp3"}).json()
            tasks = {t["task_id"]: t for t in httpx.get(f"{base}/__admin/tasks").json()}
    finally:
        files.shutdown()
        files.server_close()
    assert tasks[near]["speech_seconds"] == 2.0  # fetched over loopback and measured
    assert tasks[far["task_id"]]["speech_seconds"] == 5.0  # the internet is never reached: estimated
