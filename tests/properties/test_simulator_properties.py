"""Valid requests of every mode are accepted; broken ones get the documented error shape, never a 500."""

from __future__ import annotations

import httpx
from hypothesis import HealthCheck, given, settings

from navtalk_sweep.clock import ManualClock
from navtalk_sweep.contract import mode_of
from navtalk_sweep.mock import NavTalkMock
from navtalk_sweep.simulator import Simulator
from navtalk_sweep.strategies import broken_submit_bodies, submit_bodies

MOCK = NavTalkMock(seed=1)
HTTP = MOCK.client()


@given(submit_bodies())
def test_every_valid_request_is_accepted(body):
    mode_of(body)  # the strategy only makes contract-valid bodies
    response = HTTP.post("https://app.navtalk.ai/generate", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "started" and len(answer["task_id"]) == 36


@settings(suppress_health_check=[HealthCheck.filter_too_much])
@given(broken_submit_bodies())
def test_every_broken_request_is_rejected_with_the_error_shape(body):
    response = HTTP.post("https://app.navtalk.ai/generate", json=body)
    assert response.status_code in (400, 401), response.text
    answer = response.json()
    assert answer["status"] == "error" and isinstance(answer["message"], str) and answer["message"]


@given(submit_bodies())
def test_simulator_is_deterministic_per_seed(body):
    a, b = (Simulator(clock=ManualClock(), seed=11) for _ in range(2))
    assert a.submit(body) == b.submit(body)


def test_non_json_body_is_a_400():
    response = HTTP.post("https://app.navtalk.ai/generate", content=b"{not json")
    assert (response.status_code, response.json()["message"]) == (400, "request body is not valid JSON")
    assert isinstance(HTTP, httpx.Client)
