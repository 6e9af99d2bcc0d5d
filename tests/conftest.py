from __future__ import annotations

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DATA = Path(__file__).resolve().parent / "data"
FAKE_LICENSE = "sk-test-0000secret"


@pytest.fixture
def fake_license() -> str:
    return FAKE_LICENSE


def read_results(run_dir: Path) -> list[dict]:
    """The records of a run's results.jsonl."""
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]
