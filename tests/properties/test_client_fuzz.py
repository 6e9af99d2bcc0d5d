"""Whatever a server answers, the client classifies it: a value or one of our errors, never a crash."""

from __future__ import annotations

import json

import httpx
from hypothesis import given
from hypothesis import strategies as st

from navtalk_sweep.client import Submitted, TaskStatus, read_status, read_submit
from navtalk_sweep.errors import ClientError, RateLimited

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10),
              st.sampled_from(["started", "done", "failed", "error", "processing", "queued"])),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(
        st.sampled_from(["status", "task_id", "video_url", "message", "error", "msg", "detail", "x"]), c,
        max_size=4)),
    max_leaves=10,
)
bodies = st.one_of(json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=40),
                   st.just(b"<html><body>502</body></html>"))
codes = st.sampled_from([200, 201, 202, 204, 301, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504])
headers = st.dictionaries(st.sampled_from(["content-type", "retry-after"]),
                          st.sampled_from(["application/json", "text/html", "3", "soon", "inf", "nan", "-5",
                                           "Wed, 21 Oct 2015 07:28:00 GMT"]),
                          max_size=2)


@given(codes, bodies, headers)
def test_every_answer_is_classified(code, body, hdrs):
    request = httpx.Request("POST", "https://app.navtalk.ai/generate")
    response = httpx.Response(code, content=body, headers=hdrs, request=request)
    for read in (read_submit, lambda r: read_status(r, "task")):
        try:
            value = read(response)
        except RateLimited as exc:
            assert exc.retry_after is None or 0 <= exc.retry_after < 1e6
        except ClientError as exc:
            assert str(exc) and "\n" not in str(exc)
        else:
            assert isinstance(value, Submitted | TaskStatus)
            assert code < 400


@given(codes, st.text(), st.sampled_from(["message", "error", "msg", "detail"]))
def test_a_service_message_with_any_whitespace_or_control_characters_stays_one_line(code, text, field):
    body = json.dumps({"status": "failed" if code < 400 else "error", field: text}).encode()
    response = httpx.Response(code, content=body, request=httpx.Request("GET", "https://api.navtalk.ai/q"))
    for read in (read_submit, lambda r: read_status(r, "task")):
        try:
            value = read(response)
        except ClientError as exc:
            message = str(exc)
        else:
            message = value.message if isinstance(value, TaskStatus) else ""
        assert (message or "x").splitlines() == [message or "x"]
        assert not any(ch < " " or ch == "\x7f" for ch in message or "")
