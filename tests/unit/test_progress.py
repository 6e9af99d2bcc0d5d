"""Progress: a live line on a terminal, plain lines for CI."""

from __future__ import annotations

import io

import pytest

from navtalk_sweep._progress import Progress
from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.runner import CaseFinished, CaseSubmitted, RunStarted, RunStopped, StatusObserved
from navtalk_sweep.strategies import submit_bodies


def feed(progress: Progress) -> None:
    progress(RunStarted(0, 2, 2))
    progress(CaseSubmitted(0, "a", "t1", 0.1))
    progress(StatusObserved(1, "a", "processing", 1))
    progress(CaseFinished(2, "a", [CaseRecord("a", Outcome.PASSED, final_status="done")]))
    progress(RunStopped(3, "licence rejected"))
    progress.close()


def test_plain_lines_when_not_on_a_terminal():
    out = io.StringIO()
    feed(Progress(2, plain=True, stream=out, every=0.0))
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()
    assert lines[-2] == "stopping: licence rejected"
    assert lines[-1] == "[1/2] submitted 1, processing 0, done 1, not done 0"


def test_live_line_on_a_terminal_rewrites_itself():
    out = io.StringIO()
    feed(Progress(2, plain=False, stream=out))
    text = out.getvalue()
    assert text.startswith("\r\x1b[2K[0/2]") and text.endswith("done 1, not done 0\n")


def test_the_eta_is_the_rate_since_the_first_case_finished_not_the_wait_for_it():
    # 100 cases: 3 s before the first finishes (start-up and a whole concurrent wave), then one every 0.01 s;
    # counting the first 3 s per case promised minutes for a run with a second left
    now = [0.0]
    out = io.StringIO()
    progress = Progress(100, plain=True, stream=out, every=0.0, clock=lambda: now[0])
    progress(RunStarted(0, 100, 8))
    lines = []
    for i in range(10):
        now[0] = 3.0 + 0.01 * i
        progress(CaseFinished(i, f"c{i}", [CaseRecord(f"c{i}", Outcome.PASSED, final_status="done")]))
        lines.append(out.getvalue().splitlines()[-1])
    assert "ETA" not in lines[0]  # one finished case tells no rate
    assert lines[-1].endswith(", ETA 1 s")  # 90 left at 9 per 0.09 s: 0.9 s
    assert lines[1].endswith(", ETA 1 s")


def test_nothing_is_printed_for_a_run_that_never_began():
    out = io.StringIO()
    Progress(5, plain=True, stream=out).close()
    assert out.getvalue() == ""


def test_strategies_check_their_arguments_eagerly():
    with pytest.raises(InvalidArgument, match="modes must be a non-empty sequence of Mode"):
        submit_bodies(modes=[4])
    with pytest.raises(TypeError):  # InvalidArgument is a TypeError too
        submit_bodies(characters=())
