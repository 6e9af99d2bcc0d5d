"""A small app that renders a talking video through NavTalk: what a careful integration looks like.

    url = render_video({"image_url": "https://.../face.jpg", "content": "Hello", "voice": "nova"},
                       license=os.environ["NAVTALK_LICENSE"], client=httpx.Client())

It submits once (a submit is a paid task: never sent again unless the service said 429,
which creates no task), polls with backoff, treats ``failed`` and unknown statuses as
what they are, and gives up after a deadline. Its tests (test_render.py) use only
navtalk-sweep's public pytest fixture, hypothesis strategies and a scenario file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

GENERATE_URL = "https://app.navtalk.ai/generate"
STATUS_URL = "https://api.navtalk.ai/query_status"


class RenderError(Exception):
    """The video could not be rendered."""


class Rejected(RenderError):
    """The service refused the request (4xx): nothing was created, sending it again will not help."""


class SubmitUnknown(RenderError):
    """The submit may have created a task, but its answer was lost: not sent again (it would be paid twice)."""


class RenderFailed(RenderError):
    """The task ended ``failed``."""


class RenderTimedOut(RenderError):
    """No final status before the deadline."""


def _retry_after(response: httpx.Response, attempt: int) -> float:
    try:
        return max(0.0, float(response.headers.get("retry-after", "")))
    except ValueError:
        return min(30.0, 2.0 ** attempt)


def submit(body: Mapping[str, Any], *, license: str, client: httpx.Client, sleep: Callable[[float], object],
           rate_limit_retries: int = 5) -> str:
    """POST /generate; the task id. Retried only after 429 (no task was created)."""
    for attempt in range(rate_limit_retries + 1):
        try:
            response = client.post(GENERATE_URL, json={"license": license, **body})
        except httpx.ConnectError as exc:
            raise RenderError(f"cannot reach NavTalk: {exc}") from exc
        except httpx.HTTPError as exc:
            raise SubmitUnknown(f"the submit's answer was lost ({type(exc).__name__})") from exc
        if response.status_code == 429 and attempt < rate_limit_retries:
            sleep(_retry_after(response, attempt))
            continue
        if 400 <= response.status_code < 500:
            raise Rejected(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 500:
            raise SubmitUnknown(f"HTTP {response.status_code} after the submit: the task may exist")
        try:
            task_id = response.json()["task_id"]
        except (ValueError, KeyError, TypeError) as exc:
            raise SubmitUnknown("the submit's answer was unreadable: the task may exist") from exc
        return str(task_id)
    raise RenderError("rate limited: gave up waiting")


def render_video(body: Mapping[str, Any], *, license: str, client: httpx.Client, deadline: float = 120.0,
                 first_poll: float = 5.0, max_interval: float = 10.0, sleep: Callable[[float], object] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> str:
    """Submit ``body`` and poll until the video is ready; its URL. Raises a RenderError otherwise."""
    task_id = submit(body, license=license, client=client, sleep=sleep)
    started = clock()
    delay = first_poll
    last = "started"
    while True:
        remaining = deadline - (clock() - started)
        if remaining <= 0:
            raise RenderTimedOut(f"task {task_id}: no final status after {deadline:g} s (last {last!r})")
        sleep(min(delay, remaining))
        delay = min(max_interval, delay * 1.5)
        try:
            response = client.get(STATUS_URL, params={"license": license, "task_id": task_id})
        except httpx.HTTPError:
            continue  # polling is free: try again after the next delay
        if response.status_code != 200:
            continue
        try:
            answer = response.json()
            last = str(answer["status"])
        except (ValueError, KeyError, TypeError):
            continue
        if last == "done" and answer.get("video_url"):
            return str(answer["video_url"])
        if last == "failed":
            raise RenderFailed(f"task {task_id} failed: {answer.get('message') or answer.get('error') or 'no reason'}")
        # started, processing, or a status the vendor never named: not done, keep waiting
