"""The fault table: every kind plays the same through respx and over loopback, and the client classifies it."""

from __future__ import annotations

import pytest

from navtalk_sweep.client import Endpoint, NavTalkClient, TaskStatus
from navtalk_sweep.errors import MalformedResponse, RateLimited, ServiceError, TransportError
from navtalk_sweep.simulator import FAULT_KINDS, FaultAnswer, FaultStage, SimulatorConfig

TTS = {"license": "sk-test", "character_name": "girl2", "content": "Welcome to NavTalk.", "voice": "nova"}

#: what the client makes of each HTTP kind at submit, and whether the task exists all the same
SUBMIT = {
    "http_500": (ServiceError, True), "http_502": (ServiceError, True), "http_503": (ServiceError, False),
    "http_504": (ServiceError, True), "rate_limit": (RateLimited, False), "rate_limit_date": (RateLimited, False),
    "drop": (TransportError, True), "slow": (None, True), "malformed_json": (MalformedResponse, True),
    "html_error": (ServiceError, True),
}


def test_every_http_kind_has_an_expectation_here():
    http = {k for k, v in FAULT_KINDS.items() if v.stage is FaultStage.HTTP}
    assert http == set(SUBMIT), "a new HTTP fault kind needs its row in SUBMIT"


@pytest.mark.parametrize("kind", sorted(SUBMIT))
def test_each_http_fault_at_submit(navtalk, kind):
    navtalk.configure({"faults": [{"kind": kind, "endpoint": "submit", "times": 1, "retry_after": 3, "delay": 0}]})
    client = NavTalkClient(Endpoint("sk-test", navtalk.generate_url, navtalk.status_url), navtalk.http)
    error, created = SUBMIT[kind]
    if error is None:
        assert client.submit(TTS).task_id
    else:
        with pytest.raises(error) as info:
            client.submit(TTS)
        status = FAULT_KINDS[kind].status
        if isinstance(info.value, ServiceError) and status is not None:
            assert info.value.status_code == status
        if kind.startswith("rate_limit"):
            # seconds or an HTTP date on the wall clock, rounded up: never earlier than asked, at most 1 s later
            assert 2.0 <= info.value.retry_after <= 4.0
    assert navtalk.calls()["generate"] == 1
    tasks = len(navtalk.tasks())
    assert tasks == (1 if created else 0)
    assert client.submit(TTS).task_id  # the fault struck once
    assert FAULT_KINDS[kind].answer in FaultAnswer


@pytest.mark.parametrize("kind", ["http_504", "rate_limit_date"])
def test_each_new_kind_when_polling(navtalk, kind):
    client = NavTalkClient(Endpoint("sk-test", navtalk.generate_url, navtalk.status_url), navtalk.http)
    task = client.submit(TTS).task_id
    navtalk.configure({"faults": [{"kind": kind, "endpoint": "query", "times": 1, "retry_after": 2}]})
    with pytest.raises(ServiceError) as info:
        client.status(task)
    assert info.value.task_id == task  # a polling error names its task
    assert isinstance(client.status(task), TaskStatus)


def test_a_date_retry_after_needs_its_seconds():
    with pytest.raises(TypeError, match="rate_limit_date.*needs retry_after"):
        SimulatorConfig.from_dict({"faults": [{"kind": "rate_limit_date"}]})
