from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DATA = Path(__file__).resolve().parent / "data"
FAKE_LICENSE = "sk-test-0000secret"


@pytest.fixture
def fake_license() -> str:
    return FAKE_LICENSE
