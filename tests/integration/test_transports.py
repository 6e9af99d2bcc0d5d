"""The same conversation through respx and through HTTP gives the same answers."""

from __future__ import annotations

import io

import av
import pytest

from tests.integration.conftest import Navtalk

TTS = {"license": "sk-test", "character_name": "girl2", "content": "Welcome to NavTalk.", "voice": "fable"}


def conversation(navtalk: Navtalk) -> list:
    """A fixed script of calls; returns every answer, hosts stripped from URLs."""
    navtalk.configure({"timing": "fixed:8", "faults": [
        {"kind": "http_503", "endpoint": "query", "probability": 0.3},
        {"kind": "task_failed", "when": "bbox_shift > 7", "message": "face not found"},
    ]})
    out = []
    ids = []
    for shift in (0, 3, 8):
        r = navtalk.submit({**TTS, "bbox_shift": shift})
        out.append((r.status_code, r.json()))
        ids.append(r.json()["task_id"])
    r = navtalk.submit({**TTS, "voice": "robot"})
    out.append((r.status_code, r.json()))
    for _ in range(6):
        navtalk.advance(2)
        for task_id in ids:
            r = navtalk.status("sk-test", task_id)
            body = r.json()
            if "video_url" in body:
                body["video_url"] = body["video_url"].split("/results/", 1)[1]
            out.append((r.status_code, body))
    out.append(navtalk.calls())
    return out


def test_both_transports_give_the_same_answers(navtalk, request):
    answers = conversation(navtalk)
    cache = request.config.stash.setdefault(ANSWERS, {})
    cache[request.node.callspec.params["navtalk"]] = answers
    assert answers[3] == (400, {"status": "error", "message": "unknown voice 'robot'"})
    statuses = [a[1]["status"] for a in answers[4:-1]]
    assert {"started", "processing", "done", "failed", "error"} <= set(statuses)
    if len(cache) == 2:
        assert cache["respx"] == cache["http"]


ANSWERS = pytest.StashKey[dict]()


def test_done_task_serves_a_playable_mp4(navtalk):
    navtalk.configure({"timing": "fixed:4"})
    task_id = navtalk.submit({**TTS, "content": "word " * 10}).json()["task_id"]
    navtalk.advance(5)
    body = navtalk.status("sk-test", task_id).json()
    assert body["status"] == "done"
    video = navtalk.http.get(body["video_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert container.duration / 1e6 == pytest.approx(4.0, abs=0.3)  # ten words at 2.5 words/s


def test_unknown_task_and_bad_licence(navtalk):
    assert navtalk.status("sk-test", "00000000-0000-4000-8000-000000000000").json() == {
        "status": "error", "message": "task not found"}
    r = navtalk.submit({**TTS, "license": ""})
    assert (r.status_code, r.json()) == (401, {"status": "error", "message": "invalid license"})
