"""The app's tests, as a NavTalk user writes them: the navtalk_mock fixture, hypothesis strategies,
and a scenario file for the requests that matter. No network: the fixture intercepts NavTalk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from hypothesis import assume, given, settings
from render import Rejected, RenderFailed, RenderTimedOut, SubmitUnknown, render_video

from navtalk_sweep import NavTalkMock, load_scenarios
from navtalk_sweep.strategies import broken_submit_bodies, submit_bodies

LICENSE = "sk-test-render-app"
CASES = [case for plan in load_scenarios([str(Path(__file__).with_name("render_cases.yaml"))])[0] for case in plan]
#: one client for every test, as the app keeps one: the mock intercepts it whichever test is running, and a
#: new client loads the system's certificates each time (57 ms; 80 hypothesis examples took 2.2 s for it)
HTTP = httpx.Client()


def render(mock: NavTalkMock, body: dict, **kwargs) -> str:
    """The app on the mock's clock: its sleeps move the mock's time, no real waiting."""

    sleeps = 0

    def sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if mock.clock() > 3600 or sleeps > 1000:  # a wait with no end would hang the suite: fail it instead
            raise AssertionError("still waiting after an hour (or 1000 sleeps) of mock time: is there a deadline?")
        mock.advance(seconds)

    return render_video(body, license=LICENSE, client=HTTP, sleep=sleep, clock=mock.clock, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_renders_every_request_of_the_scenario_file(navtalk_mock, case):
    url = render(navtalk_mock, dict(case.request))
    assert url.startswith("https://") and "/results/" in url
    assert navtalk_mock.calls["generate"] == 1  # one paid task


@pytest.mark.navtalk_mock(timing="fixed:8")
def test_a_failed_task_is_an_error_with_the_reason(navtalk_mock):
    navtalk_mock.fault("task_failed", message="face not found")
    with pytest.raises(RenderFailed, match="face not found"):
        render(navtalk_mock, dict(CASES[0].request))


@pytest.mark.navtalk_mock(timing="fixed:8")
def test_a_task_that_never_finishes_is_given_up_at_the_deadline(navtalk_mock):
    navtalk_mock.fault("never_finish")
    with pytest.raises(RenderTimedOut):
        render(navtalk_mock, dict(CASES[0].request), deadline=60)
    assert 60 <= navtalk_mock.clock() <= 61  # gave up on time, not later


@pytest.mark.navtalk_mock(timing="fixed:8")
def test_an_unknown_status_is_not_taken_for_done(navtalk_mock):
    navtalk_mock.fault("unknown_status", status="queued")
    with pytest.raises(RenderTimedOut, match="last 'queued'"):
        render(navtalk_mock, dict(CASES[0].request), deadline=60)


@pytest.mark.parametrize("kind", ["drop", "http_500", "http_504", "malformed_json"])
def test_a_lost_submit_answer_is_never_paid_for_twice(navtalk_mock, kind):
    navtalk_mock.fault(kind, endpoint="submit", times=1)
    with pytest.raises(SubmitUnknown):
        render(navtalk_mock, dict(CASES[0].request))
    assert navtalk_mock.calls["generate"] == 1 and set(navtalk_mock.submits.values()) == {1}


def test_rate_limits_are_waited_out_and_retried(navtalk_mock):
    navtalk_mock.fault("rate_limit", endpoint="submit", retry_after=2, times=2)
    render(navtalk_mock, dict(CASES[0].request))
    assert navtalk_mock.calls["generate"] == 3 and len(navtalk_mock.tasks) == 1


def test_poll_errors_are_retried(navtalk_mock):
    navtalk_mock.fault("http_503", endpoint="query", times=3)
    assert render(navtalk_mock, dict(CASES[0].request))


@settings(max_examples=40, deadline=None)
@given(body=submit_bodies(license=LICENSE))
def test_any_valid_request_renders(body):
    with NavTalkMock(seed=1) as mock:
        body.pop("license")
        assert render(mock, body)
        assert mock.calls["generate"] == 1


@settings(max_examples=40, deadline=None)
@given(body=broken_submit_bodies(license=LICENSE))
def test_a_broken_request_is_refused_once_and_not_retried(body):
    assume(isinstance(body, dict))  # the app takes mappings; other JSON is refused by its type
    with NavTalkMock(seed=1) as mock:
        with pytest.raises(Rejected):
            render(mock, {k: v for k, v in body.items() if k != "license"})
        assert mock.calls["generate"] == 1
