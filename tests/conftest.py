from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples on every run (a failure there is a failure of the change, not of the
# draw); locally the default profile explores. ``HYPOTHESIS_PROFILE=explore`` draws anew anywhere.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore")
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))

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
