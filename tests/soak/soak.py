"""A sweep against `navtalk-sweep mock` with and without a fault plan of every kind, and SIGKILL trials.

Shared by the suite's short versions (tests/soak/test_soak.py) and the long ones
(benchmarks/bench_soak.py): the same code, different sizes.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

from tests.servers import mock_process

CLASSIFIED = {"passed", "failed", "error", "timeout", "rejected"}
FAKE_LICENSE = "sk-test-soak-0000"


def fault_plan(p: float) -> list[dict]:
    """Every fault kind at probability ``p`` (three never-finishing tasks)."""
    return [
        {"kind": "rate_limit", "endpoint": "submit", "probability": p, "retry_after": 0.5},
        {"kind": "rate_limit", "endpoint": "submit", "probability": p},
        {"kind": "rate_limit_date", "endpoint": "query", "probability": p, "retry_after": 1},
        {"kind": "http_500", "probability": p}, {"kind": "http_502", "probability": p},
        {"kind": "http_503", "probability": p}, {"kind": "http_504", "probability": p},
        {"kind": "drop", "probability": p}, {"kind": "malformed_json", "probability": p},
        {"kind": "html_error", "probability": p}, {"kind": "slow", "probability": p, "delay": 0.5},
        {"kind": "unknown_status", "probability": p, "status": "queued"},
        {"kind": "never_finish", "times": 3},
        {"kind": "task_failed", "probability": p, "message": "face not found"},
        {"kind": "reject", "probability": p, "message": "character busy"},
    ]


def scenario(n_shifts: int) -> str:
    return ("name: soak\ninputs:\n  faces: {g: {character_name: girl2}}\n  speech:\n"
            "    a: {text: 'Hello there.', voice: nova}\n    b: {text: 'A somewhat longer sentence to say.', "
            "voice: onyx}\nmatrix:\n  speech: [a, b]\n  parsing_mode: [jaw, raw]\n"
            f"  bbox_shift: {{from: 0, to: {n_shifts - 1}}}\n")


@dataclass
class Soak:
    wall: float
    outcomes: Counter
    calls: dict
    submits: dict
    records: list[dict]

    @property
    def cases(self) -> int:
        return len(self.records)

    def per_case(self, endpoint: str) -> float:
        return self.calls.get(endpoint, 0) / self.cases


def cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navtalk_sweep.cli", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


def run_args(scenario_file: Path, base: str, run_dir: Path) -> list[str]:
    return ["run", str(scenario_file), "--target", base, "--run-dir", str(run_dir), "--license", FAKE_LICENSE,
            "--yes", "--quiet", "--first-poll", "1", "--concurrency", "8", "--submit-rate", "20"]


def soak(tmp: Path, n_shifts: int, *, faults: float | None, timing: str = "uniform:1-3",
         extra: tuple[str, ...] = ()) -> Soak:
    """One sweep of 4 x ``n_shifts`` cases against a fresh standalone mock (``extra``: more run options)."""
    config = tmp / f"mock-{faults}.yaml"
    config.write_text(yaml.safe_dump({"timing": timing, "faults": fault_plan(faults) if faults else []}))
    scenario_file = tmp / "soak.yaml"
    scenario_file.write_text(scenario(n_shifts), encoding="utf-8")
    run_dir = tmp / f"run-{faults}"
    with mock_process("--config", str(config), "--seed", "5", "--quiet") as base:
        t0 = time.monotonic()
        proc = cli(*run_args(scenario_file, base, run_dir), *extra)
        wall = time.monotonic() - t0
        calls = httpx.get(f"{base}/__admin/calls").json()
    if proc.returncode not in (0, 1) or "Traceback" in proc.stderr:
        raise AssertionError(proc.stderr[-3000:])
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    return Soak(wall, Counter(r["outcome"] for r in records), calls["calls"], calls["submits"], records)


@dataclass
class KillTrials:
    kills: int
    cases: int
    duplicates: list[str]
    outcomes: Counter
    wall: float


def kill_trials(tmp: Path, n_shifts: int, kills: int, *, faults: float = 0.05, seed: int = 1,
                extra: tuple[str, ...] = ()) -> KillTrials:
    """SIGKILL a faulty run at random moments ``kills`` times, resuming after each; then resume to the end."""
    rng = random.Random(seed)
    config = tmp / "mock-kills.yaml"
    plan = [f for f in fault_plan(faults) if f["kind"] != "never_finish"]
    config.write_text(yaml.safe_dump({"timing": "uniform:0.5-1.5", "faults": plan}))
    scenario_file = tmp / "kills.yaml"
    scenario_file.write_text(scenario(n_shifts), encoding="utf-8")
    run_dir = tmp / "run-kills"
    t0 = time.monotonic()
    with mock_process("--config", str(config), "--seed", "6", "--quiet") as base:
        first = [*run_args(scenario_file, base, run_dir), *extra]
        resume = ["run", "--resume", str(run_dir), "--license", FAKE_LICENSE, "--yes", "--quiet",
                  "--first-poll", "1", "--submit-rate", "20", *extra]
        journal = run_dir / "journal.jsonl"
        for k in range(kills):
            size = journal.stat().st_size if journal.exists() else 0
            proc = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", *(first if k == 0 else resume)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < deadline:
                if journal.exists() and journal.stat().st_size > size:
                    break
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 1.5))  # where the kill lands, not a timing assertion
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        final = cli(*resume)
        if final.returncode not in (0, 1) or "Traceback" in final.stderr:
            raise AssertionError(final.stderr[-3000:])
        submits = httpx.get(f"{base}/__admin/calls").json()["submits"]
    records = [json.loads(line) for line in (run_dir / "results.jsonl").read_text().splitlines()]
    duplicates = sorted(rid for rid, n in submits.items() if n > 1)
    return KillTrials(kills, len(records), duplicates, Counter(r["outcome"] for r in records),
                      time.monotonic() - t0)
