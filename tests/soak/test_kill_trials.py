"""Short form of the SIGKILL trials (long form: benchmarks/bench_soak.py)."""

from __future__ import annotations

import pytest

from tests.soak.soak import CLASSIFIED, kill_trials


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_pays_once_and_loses_nothing(tmp_path):
    trials = kill_trials(tmp_path, 10, kills=5, extra=("--max-backoff", "3"))
    assert trials.cases == 40 and set(trials.outcomes) <= CLASSIFIED
    assert trials.duplicates == []
