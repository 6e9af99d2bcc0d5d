"""Short form of the SIGKILL trials (long form: benchmarks/bench_soak.py)."""

from __future__ import annotations

import pytest

from tests.soak.soak import CLASSIFIED, kill_trials


@pytest.mark.slow
def test_sigkill_at_random_moments_then_resume_pays_once_and_loses_nothing(tmp_path):
    # a task the mock leaves in a status the contract does not name is polled until the case timeout when the
    # last resume learned no deadline (its tasks had ended before it): 600 s by default, which once held a
    # fresh CI run for minutes. 45 s is far past a faulty case's worst here (8 failed polls 3 s apart)
    trials = kill_trials(tmp_path, 10, kills=5, extra=("--max-backoff", "3", "--case-timeout", "45"))
    assert trials.cases == 40 and set(trials.outcomes) <= CLASSIFIED
    assert trials.duplicates == []
