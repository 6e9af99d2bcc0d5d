"""Rendering and measuring in worker processes (``analysis.pool``): the same videos and numbers as in the
calling process, and a run killed with SIGKILL leaves no forkserver or worker behind (issue 17, item 5)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from navtalk_sweep.session import Target, load_plan, run_sweep
from tests.conftest import read_results, small_tuning


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux: /proc/PID/task/*/children)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*"):
            try:
                kids = {int(k) for k in (task / "children").read_text().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_pooled_run_renders_and_measures_what_the_calling_process_does(tmp_path, monkeypatch):
    scenario = small_tuning(tmp_path, step=18, margins="[0]")  # 2 settings of 1 s
    monkeypatch.setenv("NAVTALK_SWEEP_WORKERS", "0")
    alone = {r.case_id: (r.video, r.metrics) for r in run_sweep(load_plan([scenario]), tmp_path / "alone",
                                                                 target=Target.mock(), report=False).records}
    env = {**os.environ, "NAVTALK_SWEEP_WORKERS": "2"}
    proc = subprocess.run([sys.executable, "-m", "navtalk_sweep.cli", "run", str(scenario), "--run-dir",
                           str(tmp_path / "pooled"), "--quiet"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    # videos are named by their content: the renders made in the workers are the same bytes
    pooled = {r["case_id"]: (r["video"], r["metrics"]) for r in read_results(tmp_path / "pooled")}
    assert pooled == alone and len(pooled) == 2


def test_the_cli_measures_in_a_pool_by_default_and_a_killed_run_leaves_no_process_behind(tmp_path):
    scenario = small_tuning(tmp_path, step=3, margins="[0, 50]")  # 14 settings: the pool lives until the last
    env = {k: v for k, v in os.environ.items() if k != "NAVTALK_SWEEP_WORKERS"}  # the CLI's default
    proc = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", "run", str(scenario), "--run-dir",
                             str(tmp_path / "r"), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        below: set[int] = set()
        while len(below) < 2:  # multiprocessing's resource tracker and a worker at least
            assert proc.poll() is None and time.monotonic() < deadline, "the pool never started"
            below = _descendants(proc.pid)
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in below) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in below if _alive(p)], "processes of the pool outlived the killed run"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
