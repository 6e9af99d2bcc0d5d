"""One NavTalk endpoint over an injected httpx client: submit, poll, download.

This is the only module where httpx exceptions become navtalk-sweep's own; every
answer is classified: accepted (:class:`Submitted`), a status (:class:`TaskStatus`),
or one of :class:`LicenseRejected`, :class:`RateLimited`, :class:`ServiceError`
(rejected or server error), :class:`TransportError` (``sent`` tells whether the
request may have reached the service) and :class:`MalformedResponse`.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from navtalk_sweep.contract import DEFAULT_GENERATE_URL, DEFAULT_STATUS_URL, error_message, redact
from navtalk_sweep.errors import (
    ClientError,
    InvalidArgument,
    LicenseRejected,
    MalformedResponse,
    RateLimited,
    ServiceError,
    TransportError,
)

__all__ = ["AsyncNavTalkClient", "CookielessAsyncClient", "Endpoint", "NavTalkClient", "RecordingTransport", "Submitted", "TaskStatus"]

#: httpx errors raised before a single byte of the request left
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.PoolTimeout)


@dataclass(frozen=True)
class Endpoint:
    """Where NavTalk lives and the licence to use; the licence never shows in a repr."""

    license: str = field(repr=False)
    generate_url: str = DEFAULT_GENERATE_URL
    status_url: str = DEFAULT_STATUS_URL

    @classmethod
    def from_env(cls, *, license: str | None = None, generate_url: str | None = None,
                 status_url: str | None = None, env: Mapping[str, str] | None = None) -> Endpoint:
        """Flags first, then ``NAVTALK_LICENSE``, ``NAVTALK_GENERATE_URL``, ``NAVTALK_STATUS_URL``."""
        env = os.environ if env is None else env
        return cls(
            license=license or env.get("NAVTALK_LICENSE", ""),
            generate_url=generate_url or env.get("NAVTALK_GENERATE_URL") or DEFAULT_GENERATE_URL,
            status_url=status_url or env.get("NAVTALK_STATUS_URL") or DEFAULT_STATUS_URL,
        )

    def scrub(self, text: str) -> str:
        return redact(text, [self.license])


@dataclass(frozen=True)
class Submitted:
    task_id: str


@dataclass(frozen=True)
class TaskStatus:
    """One poll's answer; ``status`` is kept as sent, known or not."""

    status: str
    video_url: str | None = None
    message: str | None = None

    @property
    def known(self) -> bool:
        return self.status in ("started", "processing", "done", "failed")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:  # the other form RFC 9110 allows: an HTTP date
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: back off as if the header were absent
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None


def _raise_for_error(response: httpx.Response, body: Any, what: str) -> None:
    """Raise the classified error for an error answer; return when the answer is usable."""
    code = response.status_code
    message = error_message(body)
    if code == 429:
        raise RateLimited(f"{what}: rate limited (HTTP 429)", status_code=429,
                          retry_after=_retry_after(response.headers.get("retry-after")))
    is_error_body = isinstance(body, dict) and body.get("status") == "error"
    if code in (401, 403) or ((code >= 400 or is_error_body) and message and "licen" in message.lower()):
        raise LicenseRejected(f"{what}: licence rejected (HTTP {code}): {message or 'no message'}", status_code=code)
    if code >= 400:
        if body is None:
            kind = "an HTML page" if "html" in response.headers.get("content-type", "") else "a non-JSON body"
            raise ServiceError(f"{what}: HTTP {code} with {kind}", status_code=code)
        raise ServiceError(f"{what}: HTTP {code}: {message or 'no message'}", status_code=code)
    if body is None:
        raise MalformedResponse(f"{what}: HTTP {code} but the body is not JSON")
    if not isinstance(body, dict):
        raise MalformedResponse(f"{what}: expected a JSON object, got {type(body).__name__}")
    if is_error_body:
        raise ServiceError(f"{what}: HTTP {code} with an error body: {message or 'no message'}", status_code=code)


def read_submit(response: httpx.Response) -> Submitted:
    """Classify a ``/generate`` answer."""
    body = _json_body(response)
    _raise_for_error(response, body, "submit")
    task_id = body.get("task_id")
    if not isinstance(task_id, str) or not task_id:
        if body.get("status") == "failed" or error_message(body):
            raise ServiceError(f"submit refused: {error_message(body) or body.get('status')}",
                               status_code=response.status_code)
        raise MalformedResponse(f"submit: no task_id in the answer (status {body.get('status')!r})")
    return Submitted(task_id)


def read_status(response: httpx.Response, task_id: str) -> TaskStatus:
    """Classify a ``/query_status`` answer; unknown status values are kept."""
    body = _json_body(response)
    _raise_for_error(response, body, f"query_status {task_id}")
    status = body.get("status")
    if not isinstance(status, str) or not status:
        raise MalformedResponse(f"query_status {task_id}: no status in the answer")
    url = body.get("video_url")
    # a status is one of a handful of words, kept by every record and job state: one copy of each
    return TaskStatus(sys.intern(status), url if isinstance(url, str) and url else None, error_message(body))


def _transport_error(exc: httpx.HTTPError, what: str, endpoint: Endpoint) -> TransportError:
    sent = not isinstance(exc, _NOT_SENT)
    detail = endpoint.scrub(str(exc) or type(exc).__name__)
    return TransportError(f"{what}: {type(exc).__name__}: {detail}", sent=sent)


class _NoCookies(httpx.Cookies):
    """An empty cookie jar that stays empty: a response's ``Set-Cookie`` is dropped unread."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class CookielessAsyncClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` that keeps no cookies.

    NavTalk is authorised by the licence in each request and result videos by their signed URL, so a
    cookie can change nothing a sweep does; httpx still parses every response for one (a tenth of a
    50,000-case run's CPU on the bundled mock, ``benchmarks/bench_scale.py``), and a cookie kept from one
    host could ride along to another.
    """

    _none = _NoCookies()

    @property
    def cookies(self) -> httpx.Cookies:
        return self._none

    @cookies.setter
    def cookies(self, cookies: object) -> None:
        raise TypeError("this client keeps no cookies")


class _Base:
    """What both clients share: how each call's request is built and what it is called in errors."""

    http: httpx.Client | httpx.AsyncClient

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint

    def _submit_request(self, body: Mapping[str, Any]) -> tuple[httpx.Request, str]:
        return self.http.build_request("POST", self.endpoint.generate_url, json=dict(body)), "submit"

    def _status_request(self, task_id: str) -> tuple[httpx.Request, str]:
        params = {"license": self.endpoint.license, "task_id": task_id}
        url = self.endpoint.status_url
        # written out and parsed once (as params=, httpx parsed it three times: an eighth of a poll-heavy
        # run's CPU); a URL with its own query keeps it (params= dropped it), its licence and task id replaced
        full = httpx.URL(url).copy_merge_params(params) if "?" in url else f"{url}?{urlencode(params)}"
        return self.http.build_request("GET", full), f"query_status {task_id}"


class AsyncNavTalkClient(_Base):
    """Async NavTalk calls over an injected ``httpx.AsyncClient``."""

    http: httpx.AsyncClient

    def __init__(self, endpoint: Endpoint, http: httpx.AsyncClient) -> None:
        super().__init__(endpoint)
        self.http = http

    async def _send(self, call: tuple[httpx.Request, str]) -> httpx.Response:
        request, what = call
        try:
            return await self.http.send(request)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, what, self.endpoint) from exc

    async def submit(self, body: Mapping[str, Any]) -> Submitted:
        return read_submit(await self._send(self._submit_request(body)))

    async def status(self, task_id: str) -> TaskStatus:
        try:
            return read_status(await self._send(self._status_request(task_id)), task_id)
        except ClientError as exc:
            exc.task_id = task_id
            raise

    async def upload(self, url: str, data: bytes) -> None:
        """PUT ``data`` at ``url`` (local media for a navtalk-sweep mock)."""
        response = await self._send((self.http.build_request("PUT", url, content=data), "upload"))
        if response.status_code != 200:
            raise ServiceError(f"upload: HTTP {response.status_code}", status_code=response.status_code)

    async def download(self, url: str, dest: Path, *, max_bytes: int = 200_000_000, timeout: float = 60.0) -> int:
        """Save ``url`` to ``dest`` (http(s) only, at most ``max_bytes``); returns the size."""
        part = dest.with_suffix(dest.suffix + ".part")
        try:
            with part.open("wb") as fh:
                size = await self.stream_into(url, fh.write, max_bytes=max_bytes, timeout=timeout)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        part.replace(dest)
        return size

    async def stream_into(self, url: str, write: Callable[[bytes], object], *, max_bytes: int = 200_000_000,
                          timeout: float = 60.0) -> int:
        """Hand ``url``'s body to ``write`` as it arrives (http(s) only, at most ``max_bytes``); returns the size."""
        if not url.startswith(("http://", "https://")):
            raise InvalidArgument(f"will only download http(s) URLs, got {url.split(':')[0]!r}")
        size = 0
        try:
            async with self.http.stream("GET", url, timeout=timeout) as response:
                if response.status_code != 200:
                    raise ServiceError(f"download: HTTP {response.status_code}", status_code=response.status_code)
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > max_bytes:
                        raise MalformedResponse(f"download: larger than the {max_bytes} byte cap")
                    write(chunk)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, "download", self.endpoint) from exc
        return size


class NavTalkClient(_Base):
    """The same calls over a sync ``httpx.Client``, for scripts and tests."""

    http: httpx.Client

    def __init__(self, endpoint: Endpoint, http: httpx.Client) -> None:
        super().__init__(endpoint)
        self.http = http

    def _send(self, call: tuple[httpx.Request, str]) -> httpx.Response:
        request, what = call
        try:
            return self.http.send(request)
        except httpx.HTTPError as exc:
            raise _transport_error(exc, what, self.endpoint) from exc

    def submit(self, body: Mapping[str, Any]) -> Submitted:
        return read_submit(self._send(self._submit_request(body)))

    def status(self, task_id: str) -> TaskStatus:
        try:
            return read_status(self._send(self._status_request(task_id)), task_id)
        except ClientError as exc:
            exc.task_id = task_id
            raise

    def wait(self, task_id: str, *, interval: float = 2.0, timeout: float = 600.0,
             sleep: Any = time.sleep, clock: Any = time.monotonic) -> TaskStatus:
        """Poll until done/failed or ``timeout`` seconds; returns the last status."""
        deadline = clock() + timeout
        while True:
            status = self.status(task_id)
            if status.status in ("done", "failed") or clock() >= deadline:
                return status
            sleep(interval)


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a transport and hands every NavTalk exchange to ``record`` (see :mod:`navtalk_sweep.cassette`).

    ``now`` is the run's clock. Only ``/generate`` and ``/query_status`` are recorded;
    downloads are kept as the run's videos.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, record: Any, now: Any, license: str) -> None:
        from navtalk_sweep.cassette import Exchange

        self._inner, self._record, self._now, self._license = inner, record, now, license
        self._exchange = Exchange
        self._first_submit: dict[str, float] = {}  # request id -> time of its first submit
        self._submitted: dict[str, float] = {}  # task id -> time of the submit that created it

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        if endpoint not in ("generate", "query_status"):
            return await self._inner.handle_async_request(request)
        from navtalk_sweep.contract import request_id

        sent_at = self._now()
        rid = task = None
        asked: dict[str, Any] | None = None
        if endpoint == "generate":
            try:
                body = json.loads(await request.aread())
            except (json.JSONDecodeError, UnicodeDecodeError):
                body = None
            if isinstance(body, dict):
                asked = {k: v for k, v in body.items() if k != "license"}
                rid = request_id(asked)
                self._first_submit.setdefault(rid, sent_at)
        else:
            task = request.url.params.get("task_id")
        origin = self._first_submit.get(rid, sent_at) if rid else self._submitted.get(task or "", sent_at)
        try:
            response = await self._inner.handle_async_request(request)
            content = await response.aread()
        except httpx.HTTPError:
            self._record(self._exchange(endpoint, round(sent_at - origin, 3), rid, task, request=asked))
            raise
        # decoded as a client would read it (a gzip answer is kept as its text)
        decoded = httpx.Response(response.status_code, headers=response.headers, content=content).read()
        text = decoded.decode("utf-8", errors="replace")
        if endpoint == "generate" and response.status_code == 200:
            try:
                task = json.loads(text).get("task_id")
            except (json.JSONDecodeError, AttributeError):
                task = None
            if isinstance(task, str):
                self._submitted[task] = sent_at
        headers = {k: response.headers[k] for k in ("content-type", "retry-after") if k in response.headers}
        took = round(self._now() - sent_at, 3)
        self._record(self._exchange(endpoint, round(sent_at - origin, 3), rid, task if isinstance(task, str) else None,
                                    response.status_code, headers, text, asked, took or None))
        return httpx.Response(response.status_code, headers=response.headers, content=content,
                              request=request, extensions=response.extensions)

    async def aclose(self) -> None:
        await self._inner.aclose()
