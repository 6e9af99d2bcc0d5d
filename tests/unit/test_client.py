"""Every answer a NavTalk endpoint can give, classified; transport errors say whether the request left."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx

from navtalk_sweep.client import (
    AsyncNavTalkClient,
    CookielessAsyncClient,
    Endpoint,
    NavTalkClient,
    Submitted,
    TaskStatus,
)
from navtalk_sweep.errors import LicenseRejected, MalformedResponse, RateLimited, ServiceError, TransportError
from tests.conftest import FAKE_LICENSE

GEN, STATUS = "https://app.navtalk.ai/generate", "https://api.navtalk.ai/query_status"
BODY = {"license": FAKE_LICENSE, "character_name": "girl2", "content": "hi", "voice": "nova"}


@pytest.fixture
def client():
    with respx.mock(assert_all_called=False) as router, httpx.Client() as http:
        yield router, NavTalkClient(Endpoint(FAKE_LICENSE), http)


def answer(router, url, *args, **kwargs):
    router.route(url__startswith=url).mock(return_value=httpx.Response(*args, **kwargs))


def test_accepted_with_extra_fields(client):
    router, c = client
    answer(router, GEN, 200, json={"status": "started", "task_id": "t-1", "queue": 3, "eta": None})
    assert c.submit(BODY) == Submitted("t-1")


@pytest.mark.parametrize(("status", "body", "error", "text"), [
    (400, {"status": "error", "message": "bad combination"}, ServiceError, "submit: HTTP 400: bad combination"),
    (422, {"detail": [{"loc": ["voice"]}]}, ServiceError, "submit: HTTP 422: [{'loc': ['voice']}]"),
    (200, {"status": "error", "msg": "no voice"}, ServiceError, "submit: HTTP 200 with an error body: no voice"),
    (200, {"status": "failed", "error": "unsupported"}, ServiceError, "submit refused: unsupported"),
    (401, {"status": "error", "message": "invalid license"}, LicenseRejected,
     "submit: licence rejected (HTTP 401): invalid license"),
    (403, None, LicenseRejected, "submit: licence rejected (HTTP 403): no message"),
    (200, {"status": "error", "message": "License expired"}, LicenseRejected,
     "submit: licence rejected (HTTP 200): License expired"),
    (503, {"status": "error"}, ServiceError, "submit: HTTP 503: no message"),
    (200, {"status": "started"}, MalformedResponse, "submit: no task_id in the answer (status 'started')"),
    (200, ["started"], MalformedResponse, "submit: expected a JSON object, got list"),
])
def test_submit_errors_are_classified(client, status, body, error, text):
    router, c = client
    answer(router, GEN, status, json=body)
    with pytest.raises(error) as info:
        c.submit(BODY)
    assert str(info.value) == text and type(info.value) is error


def test_html_pages_and_broken_json(client):
    router, c = client
    answer(router, GEN, 502, html="<html><body>Bad Gateway</body></html>")
    with pytest.raises(ServiceError, match=r"^submit: HTTP 502 with an HTML page$"):
        c.submit(BODY)
    router.routes.clear()
    answer(router, GEN, 200, content=b'{"status": "sta')
    with pytest.raises(MalformedResponse, match="body is not JSON"):
        c.submit(BODY)


@pytest.mark.parametrize(("headers", "wait"), [({"Retry-After": "7"}, 7.0), ({}, None),
                                               ({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0)])
def test_rate_limits_carry_retry_after(client, headers, wait):
    router, c = client
    answer(router, GEN, 429, headers=headers, json={"status": "error"})
    with pytest.raises(RateLimited) as info:
        c.submit(BODY)
    assert info.value.retry_after == wait


def test_status_answers(client):
    router, c = client
    answer(router, STATUS, 200, json={"status": "done", "video_url": "https://blob/x.mp4?sig=1", "size": 9})
    assert c.status("t") == TaskStatus("done", "https://blob/x.mp4?sig=1", None)
    router.routes.clear()
    answer(router, STATUS, 200, json={"status": "queued"})
    unknown = c.status("t")
    assert unknown.status == "queued" and not unknown.known
    router.routes.clear()
    answer(router, STATUS, 200, json={"status": "failed"})  # how some servers say "no such task"
    assert c.status("t") == TaskStatus("failed")
    router.routes.clear()
    answer(router, STATUS, 404, json={"status": "error", "message": "task not found"})
    with pytest.raises(ServiceError, match="task not found") as info:
        c.status("t")
    assert info.value.status_code == 404
    request = router.calls.last.request
    assert request.url.params["license"] == FAKE_LICENSE and request.url.params["task_id"] == "t"


@pytest.mark.parametrize("status_url", [STATUS, STATUS + "?region=eu&task_id=stale"])
def test_a_poll_carries_the_licence_and_task_id_whatever_characters_they_hold(status_url):
    licence, task = "sk-test a+b&c=d/é?#%", "t 1/2?x=y&z"
    with respx.mock() as router, httpx.Client() as http:
        router.get(url__startswith=STATUS).mock(return_value=httpx.Response(200, json={"status": "processing"}))
        NavTalkClient(Endpoint(licence, status_url=status_url), http).status(task)
        url = router.calls.last.request.url
    assert url.copy_with(query=None) == httpx.URL(STATUS)
    params = dict(url.params.multi_items())
    assert params.pop("license") == licence and params.pop("task_id") == task  # the URL's own stale id replaced
    assert params == ({"region": "eu"} if "?" in status_url else {})


@pytest.mark.parametrize(("exc", "sent"), [(httpx.ConnectError("refused"), False),
                                           (httpx.ConnectTimeout("slow"), False),
                                           (httpx.ReadTimeout("no answer"), True),
                                           (httpx.RemoteProtocolError("cut"), True)])
def test_transport_errors_say_whether_the_request_left(client, exc, sent):
    router, c = client
    router.route(url__startswith=GEN).mock(side_effect=exc)
    with pytest.raises(TransportError) as info:
        c.submit(BODY)
    assert info.value.sent is sent
    assert isinstance(info.value.__cause__, httpx.HTTPError)


def test_licence_never_in_an_error_message(client):
    router, c = client
    router.route(url__startswith=STATUS).mock(side_effect=httpx.ConnectError(f"failed GET ?license={FAKE_LICENSE}"))
    with pytest.raises(TransportError) as info:
        c.status("t")
    assert FAKE_LICENSE not in str(info.value)


def test_endpoint_from_environment_and_repr():
    e = Endpoint.from_env(env={"NAVTALK_LICENSE": FAKE_LICENSE, "NAVTALK_GENERATE_URL": "http://a/generate",
                               "NAVTALK_STATUS_URL": "http://b/query_status"})
    assert (e.generate_url, e.status_url) == ("http://a/generate", "http://b/query_status")
    assert FAKE_LICENSE not in repr(e)
    assert Endpoint.from_env(license="sk-test-flag", env={"NAVTALK_LICENSE": "x"}).license == "sk-test-flag"


def test_sync_client_waits_for_a_task_on_the_mock():
    from navtalk_sweep.mock import NavTalkMock

    with NavTalkMock(seed=1) as mock, mock.client() as http:
        mock.configure(timing="fixed:7")
        c = NavTalkClient(Endpoint(FAKE_LICENSE), http)
        task = c.submit(BODY).task_id
        final = c.wait(task, interval=2, sleep=mock.advance, clock=mock.clock)
    assert final.status == "done" and final.video_url.endswith("?sv=2025-01-01&sig=mock-signature")
    assert mock.calls["query_status"] == 5  # at 0, 2, 4, 6 and 8 s


def test_the_sweeps_client_sends_no_cookie_a_response_set():
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return httpx.Response(200, json={"status": "processing"}, headers={"set-cookie": "AWSALB=sticky; Path=/"})

    async def two_polls() -> None:
        async with CookielessAsyncClient(transport=httpx.MockTransport(handler)) as http:
            client = AsyncNavTalkClient(Endpoint(FAKE_LICENSE), http)
            for _ in range(2):
                assert (await client.status("t")).status == "processing"
            assert not http.cookies
            with pytest.raises(TypeError, match="keeps no cookies"):
                http.cookies = {"a": "b"}

    asyncio.run(two_polls())
    assert seen == [None, None]
