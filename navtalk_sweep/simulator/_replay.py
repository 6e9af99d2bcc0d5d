"""Replay: answer recorded requests as the service answered them, on the same relative timeline.

A submit whose body (without the licence) was recorded gets the recorded answers in their
order (a 429 then an accepted task, say); the task it creates answers each poll with what
the service said at that moment of the task's life: before the first recorded poll the
contract's first status, ``started``; later, the last answer recorded at or before that
age, errors and unknown statuses included. A request never recorded is refused (a drifted
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
        # a poll a little earlier than the recorded one (clocks differ by a few ms) gets its answer
        said = [ex for ex in polls if ex.t <= age + _EARLY]
        if said:
            return (*_answer(said[-1], task_id), slowness(said[-1]))
        first = _answer(polls[0], task_id) if polls else None
        if first is not None and isinstance(first[1], dict) and first[1].get("status") in ("started", "processing"):
            return (*first, 0.0)
        return 200, {"status": "started"}, {}, None, 0.0  # what the contract says of a task nobody has seen yet

    def video(self, task_id: str) -> bytes | None:
        return self.cassette.videos.get(task_id)


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
