"""Calibrate from a recorded run of 2,000 cases against a mock whose timing and failure rate are known."""

from __future__ import annotations

import random

import pytest

from navtalk_sweep.calibrate import BANDS, calibrate, drift, quantile
from navtalk_sweep.cli import main
from navtalk_sweep.runner import RunOptions
from navtalk_sweep.scenario import load_text
from navtalk_sweep.session import Target, load_mock_config, load_plan, run_sweep
from navtalk_sweep.simulator import SimulatorConfig, Timing
from tests.conftest import SCENARIOS

TRUTH = Timing(model="speech", base=3.0, per_second=1.5, jitter=0.2, low=5.0, high=25.0)
FAILURE_RATE = 0.1


def cases(n: int):
    words = [f"w{i}" for i in range(48)]
    speech = "\n".join(f'    s{k}: {{text: "{" ".join(words[:3 + k * 5])}", voice: nova}}' for k in range(10))
    text = (f"name: cal\ninputs:\n  faces: {{g: {{character_name: girl2}}}}\n  speech:\n{speech}\n"
            f"matrix:\n  speech: [{', '.join(f's{k}' for k in range(10))}]\n  bbox_shift: {{from: 0, to: {n // 10 - 1}}}\n")
    return list(load_text(text, "cal.yaml").plans[0])


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("cal") / "run"
    config = SimulatorConfig(timing=TRUTH, faults=SimulatorConfig.from_dict(
        {"faults": [{"kind": "task_failed", "probability": FAILURE_RATE}]}).faults)
    # 1,000 cases polled every second once due (the default: 1.5 s): the fit is within its bounds for seeds 2, 3
    # and 4 (2,000 took twice as long; polling every 0.5 s, a quarter more)
    run_sweep(cases(1000), run_dir, target=Target.mock(config=config, seed=2), record=True, report=False,
              download=False, options=RunOptions(concurrency=64, submit_rate=50, first_quantile=0.05,
                                                 dense_interval=1.0))
    return run_dir


def test_the_fit_matches_the_known_timing_per_band_and_the_failure_rate(recorded):
    fit = calibrate([recorded])
    rng = random.Random(7)
    speeches = {round(c.speech_seconds, 2) for c in cases(1000)}
    for band in BANDS:
        inside = [s for s in speeches if band[0] <= s < band[1]]
        if not inside:
            continue
        truth = [TRUTH.duration(s, rng) for s in inside for _ in range(400)]
        fitted = [fit.config.timing.duration(s, rng) for s in inside for _ in range(400)]
        for q in (0.5, 0.95):
            assert quantile(fitted, q) == pytest.approx(quantile(truth, q), rel=0.10), (band, q)
    failed = next(f for f in fit.config.faults if f.kind == "task_failed")
    assert abs(failed.probability - FAILURE_RATE) <= 0.02


def test_calibrate_writes_a_profile_the_mock_reads_with_its_goodness_as_comments(recorded, tmp_path, capsys):
    profile = tmp_path / "profile.yaml"
    assert main(["calibrate", str(recorded), "-o", str(profile)]) == 0
    text = profile.read_text()
    assert text.startswith("# navtalk-sweep calibrate: ") and "p95 rec  p95 sim" in text
    config = load_mock_config(profile)
    assert config.timing.model == "speech" and any(f.kind == "task_failed" for f in config.faults)
    assert "p50 rec" in capsys.readouterr().out


def test_drift_names_what_a_new_run_does_that_the_recorded_one_never_did(recorded, tmp_path, capsys):
    slower = SimulatorConfig(timing=Timing(model="speech", base=12.0, per_second=3.0, jitter=0.1, low=5, high=60),
                             faults=SimulatorConfig.from_dict({"faults": [
                                 {"kind": "unknown_status", "times": 3, "status": "queued"}]}).faults)
    new = tmp_path / "new"
    run_sweep(cases(200), new, target=Target.mock(config=slower, seed=2), record=True, report=False,
              download=False, options=RunOptions(concurrency=64, case_timeout=120))
    found = drift([recorded], new)
    assert any("status never recorded: 'queued'" in i for i in found.items)
    assert any(i.startswith("time to done, speech") for i in found.items)
    assert main(["drift", str(recorded), "--new", str(new)]) == 1
    assert main(["drift", str(recorded), "--new", str(recorded)]) == 0
    assert "no drift" in capsys.readouterr().out


def test_drift_against_a_run_without_a_cassette_compares_what_it_has_and_says_what_not(tmp_path, capsys):
    plain, recorded = tmp_path / "plain", tmp_path / "rec"
    run_sweep(load_plan([SCENARIOS / "quickstart.yaml"]), plain, target=Target.mock(seed=3), report=False)
    run_sweep(load_plan([SCENARIOS / "quickstart.yaml"]), recorded, target=Target.mock(seed=3), record=True,
              report=False)
    # the recorded run's every HTTP answer was "never recorded" by the plain one: not drift, unknown
    found = drift([plain], recorded)
    assert found.items == [] and found.notes == [
        (f"HTTP answers not compared: {plain} has no cassette (run with --record to keep them); statuses, errors "
         "and times to done are compared")]
    assert main(["drift", str(plain), "--new", str(recorded)]) == 0
    assert "note: HTTP answers not compared" in capsys.readouterr().out
    assert drift([recorded], recorded).notes == []
