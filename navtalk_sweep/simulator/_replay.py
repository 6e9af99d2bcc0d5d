"""Replay: answer recorded requests as the service answered them, on the same relative timeline.

A submit whose body (without the licence) was recorded gets the recorded answers in their
order (a 429 then an accepted task, say). Its task's polls get the recorded poll answers in
order, errors and unknown statuses included, except that a progress answer already
superseded at the poll's age is skipped, and a final answer (done, failed) is never given
before the age it was recorded at (until then the last progress answer, or ``started``). A request never recorded is refused (a drifted
integration fails loudly) or simulated, as the config says.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from navtalk_sweep.cassette import Cassette, Exchange
from navtalk_sweep.contract import request_id

#: seconds a poll may come before the recorded one and still get its answer (the two runs' clocks and
#: scheduling differ by milliseconds)
_EARLY = 0.05


class Replayer:
    """The recorded half of a simulator; ``None`` from a method means "not recorded"."""

    def __init__(self, cassette: Cassette, clock: Callable[[], float]) -> None:
        self.cassette = cassette
        self.clock = clock
        self._next: dict[str, int] = {}  # request id -> index of its next recorded submit answer
        self.created: dict[str, float] = {}  # task id -> when its replayed submit came
        self._cursor: dict[str, int] = {}  # task id -> its next recorded poll answer

    def submit(self, body: Mapping[str, Any]) -> tuple[int, Any, Mapping[str, str], str | None, float] | None:
        rid = request_id({k: v for k, v in body.items() if k != "license"})
        answers = self.cassette.submits.get(rid)
        if not answers:
            return None
        i = self._next.get(rid, 0)
        self._next[rid] = i + 1
        ex = answers[min(i, len(answers) - 1)]
        if ex.status == 200 and ex.task_id:
            self.created.setdefault(ex.task_id, self.clock())
        return (*_answer(ex, ex.task_id), slowness(ex))

    def query(self, task_id: str) -> tuple[int, Any, Mapping[str, str], str | None, float] | None:
        if task_id not in self.created:
            return None
        age = self.clock() - self.created[task_id]
        polls = self.cassette.polls.get(task_id, [])
        if not polls:
            return 200, {"status": "started"}, {}, None, 0.0
        i = self._cursor.get(task_id, 0)
        # a progress answer a later recorded answer already supersedes is skipped; errors never are,
        # so a replay meets as many errors, and backs off as often, as the recorded run did
        while i < len(polls) - 1 and _progress(polls[i]) and polls[i + 1].t <= age + _EARLY:
            i += 1
        ex = polls[i]
        if _final(ex) and ex.t > age + _EARLY:  # not done yet at this age: what it was before
            earlier = [e for e in polls[:i] if _progress(e)]
            if earlier:
                return (*_answer(earlier[-1], task_id), 0.0)
            return 200, {"status": "started"}, {}, None, 0.0
        self._cursor[task_id] = i if _final(ex) else min(i + 1, len(polls) - 1)
        return (*_answer(ex, task_id), slowness(ex))

    def video(self, task_id: str) -> bytes | None:
        return self.cassette.videos.get(task_id)


def _status(ex: Exchange) -> str | None:
    if ex.status != 200:
        return None
    try:
        body = json.loads(ex.body)
    except json.JSONDecodeError:
        return None
    return body.get("status") if isinstance(body, dict) and isinstance(body.get("status"), str) else None


def _final(ex: Exchange) -> bool:
    return _status(ex) in ("done", "failed")


def _progress(ex: Exchange) -> bool:
    """A plain answer that the task is still on its way (started, processing, or a status nobody named)."""
    status = _status(ex)
    return status is not None and status not in ("done", "failed")


def slowness(ex: Exchange) -> float:
    """How late to answer: as late as the recorded answer came, when that was noticeably late."""
    return ex.took if ex.took is not None and ex.took >= _EARLY else 0.0


def _answer(ex: Exchange, task_id: str | None) -> tuple[int, Any, Mapping[str, str], str | None]:
    """(status, JSON body or None, headers, raw text when the body was not JSON); status 0: a dropped connection."""
    if ex.status is None:
        return 0, None, {}, None
    try:
        body = json.loads(ex.body) if ex.body else None
    except json.JSONDecodeError:
        return ex.status, None, dict(ex.headers), ex.body
    if isinstance(body, dict) and isinstance(body.get("video_url"), str) and task_id:
        body["video_url"] = f"/results/{task_id}.mp4"  # the recorded video, served by the mock
    return ex.status, body, dict(ex.headers), None
