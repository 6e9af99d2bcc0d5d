"""Ask/tell searches: the study proposes, the runner pays, the study learns; resumable and shareable."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import optuna
import pytest
import yaml

from navtalk_sweep import search
from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.session import Sweep, Target, load_plan
from tests.conftest import FAKE_LICENSE, read_results
from tests.integration.test_cli_run import FAST, cli, kill_at
from tests.servers import mock_process

#: a character face and text speech: no media to render, so a trial costs milliseconds on the mock;
#: time_to_done is the objective (it varies per task on the mock, and needs no video measures)
SEARCH = """\
name: tune
inputs:
  faces: {g: {character_name: girl2}}
  speech: {h: {text: hello there, voice: nova}}
matrix:
  bbox_shift: {from: -9, to: 9}
  parsing_mode: [jaw, raw]
search: {objective: time_to_done, direction: minimize, trials: TRIALS, parallel: 3, seed: 1}
"""


def scenario(tmp_path: Path, trials: int = 10, text: str = SEARCH) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(text.replace("TRIALS", str(trials)), encoding="utf-8")
    return path


def run(plan, run_dir: Path, target: Target | None = None):
    """Run on the bundled mock without downloads; the result and the mock's submit count."""
    sweep = Sweep(plan, run_dir, target=target or Target.mock(), download=False)
    result = sweep.run()
    return result, sweep.service.simulator.calls["generate"]


def study_of(run_dir: Path, name: str = "tune", storage: str | None = None) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=search.open_storage(storage, run_dir))


def test_a_search_asks_pays_and_tells(tmp_path):
    plan = load_plan([scenario(tmp_path)])
    assert plan.cases == () and plan.searches[0].count() == 10
    result, submits = run(plan, tmp_path / "run")
    assert result.ok
    study = study_of(tmp_path / "run")
    done = {t.number: t for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))}
    assert len(done) == 10
    # one video per distinct setting: a trial that repeats a setting is told the earlier value
    settings = {tuple(sorted(t.params.items())) for t in done.values()}
    assert len(result.records) == len(settings) == submits
    for t in done.values():
        twin = next(o for o in done.values() if o.params == t.params)
        assert t.value == twin.value
    for rec in result.records:  # the study was told each video's measure, not something else
        assert rec.trial is not None
        assert done[rec.trial["number"]].value == pytest.approx(rec.time_to_done)
        assert rec.params["bbox_shift"] == done[rec.trial["number"]].params["bbox_shift"]
    summary = json.loads((tmp_path / "run" / "search.json").read_text())[0]
    assert summary["best"]["value"] == min(r.time_to_done for r in result.records)
    assert summary["paid"] == len(settings) and summary["grid_size"] == 38


def test_a_setting_already_measured_is_not_paid_again(tmp_path):
    small = SEARCH.replace("{from: -9, to: 9}", "[0, 3]").replace("parsing_mode: [jaw, raw]", "parsing_mode: [jaw]")
    result, submits = run(load_plan([scenario(tmp_path, 8, small)]), tmp_path / "run")
    # two settings exist: two videos, however many trials the budget allowed
    assert submits == 2
    assert len(result.records) == 2


def test_failed_videos_are_failed_trials_not_zeros(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"faults": [{"kind": "task_failed", "when": "bbox_shift > 0", "message": "face not found"}]}))
    from navtalk_sweep.session import load_mock_config

    target = Target.mock(config=load_mock_config(config))
    result, _ = run(load_plan([scenario(tmp_path, 12)]), tmp_path / "run", target)
    failed = [r for r in result.records if r.final_status == "failed"]
    assert failed, "the fault plan failed no task"
    study = study_of(tmp_path / "run")
    for rec in failed:
        assert rec.trial is not None
        trial = study.trials[rec.trial["number"]]
        assert trial.state is optuna.trial.TrialState.FAIL and trial.value is None


def test_a_killed_search_resumes_without_paying_twice(tmp_path):
    config = tmp_path / "mock.yaml"
    config.write_text(yaml.safe_dump({"timing": {"model": "uniform", "low": 0.3, "high": 1.0}}))
    path = scenario(tmp_path, 14)
    run_dir = tmp_path / "run"
    with mock_process("--config", str(config), "--quiet") as base:
        common = ["--target", base, "--license", FAKE_LICENSE, "--no-download", *FAST]
        journal = run_dir / "journal.jsonl"
        kill_at(["run", str(path), "--run-dir", str(run_dir), *common], 0.9, journal)
        assert not (run_dir / "results.jsonl").exists()  # the kill landed mid-run
        kill_at(["run", "--resume", str(run_dir), *common], 0.7, journal)
        final = cli("run", "--resume", str(run_dir), *common)
        calls = httpx.get(f"{base}/__admin/calls").json()
    assert final.returncode in (0, 1), final.stderr
    assert max(calls["submits"].values()) == 1  # no trial's video was paid for twice
    study = study_of(run_dir)
    states = [t.state for t in study.trials]
    assert len(states) == 14 and optuna.trial.TrialState.RUNNING not in states  # the study went on to its end
    records = read_results(run_dir)
    assert len({r["trial"]["number"] for r in records}) == len(records)
    assert len(records) <= 14 and len(calls["submits"]) <= 14


def test_two_processes_share_one_search(tmp_path):
    storage = tmp_path / "shared.journal"
    path = scenario(tmp_path, 16)
    config = tmp_path / "mock.yaml"  # real time, so that the two runs overlap: each task takes 0.4-0.6 s
    config.write_text(yaml.safe_dump({"timing": {"model": "uniform", "low": 0.4, "high": 0.6}}))
    procs = [subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", "run", str(path), "--run-dir",
                               str(tmp_path / f"run{i}"), "--study-storage", str(storage), "--no-download",
                               "--mock-clock", "real", "--mock-config", str(config), "--seed", str(i), *FAST],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    study = optuna.load_study(study_name="tune", storage=search.open_storage(str(storage), tmp_path))
    within, past = study.trials[:16], study.trials[16:]
    assert len(within) == 16 and all(t.state is not optuna.trial.TrialState.RUNNING for t in within)
    for trial in past:  # both asked the last trial at once: the one numbered past the budget paid nothing
        assert trial.state is optuna.trial.TrialState.FAIL and "past the study's budget" in trial.user_attrs["note"]
    numbers = [[r["trial"]["number"] for r in read_results(tmp_path / f"run{i}")] for i in range(2)]
    assert numbers[0] and numbers[1], "one process did the whole search"
    assert not set(numbers[0]) & set(numbers[1])  # no trial ran in both


def test_two_processes_asking_the_last_trial_at_once_pay_for_one(tmp_path, monkeypatch):
    opened = search.open_storage

    def racing(url, run_dir, *, owned=False):
        storage = opened(url, run_dir, owned=owned)
        create = storage.create_new_trial

        def create_new_trial(study_id, template_trial=None):
            if template_trial is None and len(storage.get_all_trials(study_id, deepcopy=False)) == 9:
                create(study_id)  # another process asks the budget's last trial between this one's count and ask
            return create(study_id, template_trial)

        storage.create_new_trial = create_new_trial
        return storage

    monkeypatch.setattr(search, "open_storage", racing)
    result, submits = run(load_plan([scenario(tmp_path, 10)]), tmp_path / "run")
    assert result.ok
    study = study_of(tmp_path / "run")
    rival, past = study.trials[9], study.trials[10:]
    assert rival.state is optuna.trial.TrialState.RUNNING and "run" not in rival.user_attrs  # the other's
    assert [t.state for t in past] == [optuna.trial.TrialState.FAIL]
    assert "past the study's budget of 10 trials" in past[0].user_attrs["note"]
    assert {r.trial["number"] for r in result.records} <= set(range(9)) and submits == len(result.records)


def test_the_budget_and_dry_run_count_a_search_at_its_most(tmp_path):
    text = SEARCH.replace("speech: {h: {text: hello there, voice: nova}}",
                          "speech: {h: {text: hello there, voice: nova}, i: {text: bye, voice: nova}}")
    text = text.replace("matrix:\n", "matrix:\n  speech: [h, i]\n").replace("parallel: 3", "parallel: 3, repeats: 2")
    path = scenario(tmp_path, 5, text)
    proc = cli("run", str(path), "--dry-run", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "a search of at most 20 video(s), 20 task(s) at most" in proc.stdout  # 5 trials x 2 repeats x 2 speech
    result, submits = run(load_plan([path]), tmp_path / "run")
    assert len(json.loads((tmp_path / "run" / "search.json").read_text())) == 2  # one study per speech
    assert submits <= 20
    assert {r.repeat for r in result.records} == {1, 2}  # each trial's two videos


def test_search_needs_the_extra_and_a_face_control_axis(tmp_path, monkeypatch):
    plan = load_plan([scenario(tmp_path)])
    monkeypatch.setattr(search, "available", lambda: False)
    with pytest.raises(InvalidArgument, match=r"searches \(search:\), which needs Optuna: pip install "
                                              r"'navtalk-sweep\[search\]'"):
        Sweep(plan, tmp_path / "run", target=Target.mock())
    monkeypatch.undo()
    no_space = SEARCH.replace("  bbox_shift: {from: -9, to: 9}\n  parsing_mode: [jaw, raw]\n", "  voice: [nova]\n")
    with pytest.raises(InvalidArgument, match="no face-control axis"):
        Sweep(load_plan([scenario(tmp_path, 3, no_space)]), tmp_path / "run", target=Target.mock())
    # a search is not cut into shards: it goes whole to one
    assert [len(load_plan([scenario(tmp_path)], shard=(k, 2)).searches) for k in (0, 1)] == [1, 0]


@pytest.mark.parametrize(("search_line", "message"), [
    ("{objective: lip_snc, trials: 5}", "unknown measure 'lip_snc' (did you mean 'lip_sync'?)"),
    ("{objective: lip_sync, weights: {seam: -1}, trials: 5}", "give an objective (one measure) or weights"),
    ("{objective: lip_sync, trials: 0}", "trials"),
    ("{objective: lip_sync, trials: 5, sampler: bayes}", "sampler"),
])
def test_a_bad_search_is_one_line_with_its_place(tmp_path, search_line, message):
    path = scenario(tmp_path, 5, SEARCH.replace(SEARCH.splitlines()[-1], f"search: {search_line}"))
    proc = cli("validate", str(path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert message in proc.stderr and f"{path}:8:" in proc.stderr, proc.stderr


def test_the_report_shows_what_the_search_tried_and_found(tmp_path):
    run(load_plan([scenario(tmp_path, 6)]), tmp_path / "run")
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    summary = json.loads((tmp_path / "run" / "search.json").read_text())[0]
    assert 'data-tab="search"' in html and 'class="search-chart"' in html
    assert f"<b>{summary['paid']}</b> paid video(s) of the\n      38 the grid of the same axes would cost" in html
    assert "minimize time_to_done" in html
    best = " ".join(f"{k}={v}" for k, v in summary["best"]["params"].items())
    assert f"#1 {best}:" in html


pytest_plugins = ["pytester"]


def test_a_search_is_one_pytest_item_judged_on_its_best(pytester, monkeypatch):
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # our plugin alone (named by -p below)
    text = SEARCH.replace("TRIALS", "6")
    (pytester.path / "good.yaml").write_text(text + "expect: {within: 1000}\n", encoding="utf-8")
    (pytester.path / "bad.yaml").write_text(text.replace("name: tune", "name: strict")
                                            + "expect: {measures: {time_to_done: {max: 0.001}}}\n", encoding="utf-8")
    result = pytester.runpytest("good.yaml", "bad.yaml", "--navtalk-run-dir", "run", "-p",
                                           "navtalk_sweep.plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*best of strict (bbox_shift=* parsing_mode=*, trial *):*",
                                 "*check time_to_done*"])


def test_merged_shards_keep_the_search_and_the_pictures(tmp_path):
    from navtalk_sweep.report import merge_runs

    run(load_plan([scenario(tmp_path, 4)]), tmp_path / "a")
    merged = merge_runs([str(tmp_path / "a")], tmp_path / "m")
    assert [s["study"] for s in merged.searches] == ["tune"]
    assert json.loads((tmp_path / "m" / "search.json").read_text())[0]["best"] is not None


def test_a_search_stopped_by_its_budget_resumes_from_python_in_one_call(tmp_path):
    from navtalk_sweep.runner import RunOptions
    from navtalk_sweep.session import resume_sweep

    run_dir = tmp_path / "run"
    first = Sweep(load_plan([scenario(tmp_path, 10)]), run_dir, target=Target.mock(), download=False,
                  options=RunOptions(max_tasks=4)).run()
    assert sum(r.outcome.value == "passed" for r in first.records) == 4
    for _ in range(3):  # each resume pays at most 4 more (the budget is kept), never one already paid
        resume_sweep(run_dir, download=False)
    study = study_of(run_dir)
    assert len(study.trials) == 10
    assert all(t.state is optuna.trial.TrialState.COMPLETE for t in study.trials)
    submitted = [json.loads(line)["key"] for line in (run_dir / "journal.jsonl").read_text().splitlines()
                 if '"CaseSubmitted"' in line]
    assert len(submitted) == len(set(submitted))
    assert json.loads((run_dir / "run.json").read_text())["resumed"] == 3


def test_a_lock_file_left_by_a_killed_writer_is_removed_by_the_runs_own_resume(tmp_path):
    run_dir = tmp_path / "run"
    run(load_plan([scenario(tmp_path, 3)]), run_dir)
    stale = run_dir / "study.journal.lock"
    stale.symlink_to(run_dir / "study.journal")  # what Optuna's lock is, and what a SIGKILL leaves behind
    search.open_storage(None, run_dir)  # not the run's writer: the lock may be someone's, it stays
    assert stale.is_symlink()
    search.open_storage(None, run_dir, owned=True)  # the resume, under the RunLock: nobody else writes here
    assert not stale.is_symlink()  # before, the resume waited 30 s for Optuna to break it
    from navtalk_sweep.session import resume_sweep

    stale.symlink_to(run_dir / "study.journal")
    resume_sweep(run_dir, download=False)
    assert not stale.is_symlink()


def test_a_trial_asked_just_before_a_kill_is_run_by_the_resume(tmp_path):
    from navtalk_sweep.session import resume_sweep

    run_dir = tmp_path / "run"
    run(load_plan([scenario(tmp_path, 3)]), run_dir)
    study = study_of(run_dir)
    # what a SIGKILL between Optuna's ask and navtalk-sweep's tag leaves: a running trial nobody claimed
    orphan = study.ask(study.trials[0].distributions)
    assert "run" not in study.trials[orphan.number].user_attrs
    resume_sweep(run_dir, download=False)
    after = study_of(run_dir).trials[orphan.number]
    assert after.state is not optuna.trial.TrialState.RUNNING and after.user_attrs["run"] == "run"


def test_a_trial_killed_while_optuna_wrote_it_is_failed_not_a_traceback(tmp_path):
    from navtalk_sweep.session import resume_sweep

    run_dir = tmp_path / "run"
    run(load_plan([scenario(tmp_path, 3)]), run_dir)
    study = study_of(run_dir)
    # Optuna writes an asked trial's values one by one: a kill in between leaves some of them (seen in CI)
    torn = study.ask()
    torn.suggest_int("bbox_shift", -9, 9)
    result = resume_sweep(run_dir, download=False)  # KeyError: 'parsing_mode' before
    after = study_of(run_dir).trials[torn.number]
    assert after.state is optuna.trial.TrialState.FAIL and "incomplete" in after.user_attrs["note"]
    assert result.records and all(r.outcome.value == "passed" for r in result.records)
