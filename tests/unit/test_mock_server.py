"""mock_server's HTTP behaviour: admin endpoints, media it can reach, logs without licences."""

from __future__ import annotations

import httpx
import pytest

from mock_server import MockTransport, create_service
from navtalk_sweep.clock import ManualClock
from navtalk_sweep.contract import request_id
from tests.conftest import DATA, FAKE_LICENSE, SCENARIOS

TTS = {"license": FAKE_LICENSE, "character_name": "girl2", "content": "Welcome to NavTalk.", "voice": "fable"}


@pytest.fixture
def mock():
    service = create_service(seed=1, clock=ManualClock(), media_dir=DATA)
    lines: list[str] = []
    service.log = lines.append
    with httpx.Client(transport=MockTransport(service), base_url="http://mock.test") as http:
        yield service, http, lines


def test_admin_endpoints(mock):
    _service, http, _ = mock
    http.post("/generate", json=TTS)
    assert http.get("/__admin/calls").json() == {"calls": {"generate": 1}, "submits": {request_id(TTS): 1}}
    tasks = http.get("/__admin/tasks").json()
    assert len(tasks) == 1 and tasks[0]["request"]["license"] != FAKE_LICENSE
    assert http.post("/__admin/config", json={"timing": "fixed:3"}).json()["timing"]["seconds"] == 3
    assert http.post("/__admin/clock", json={"advance": 4}).json() == {"now": 4.0}
    assert http.get("/query_status", params={"license": "k", "task_id": tasks[0]["task_id"]}).json()["status"] \
        in ("processing", "done")
    assert http.post("/__admin/reset", json={"seed": 9}).json() == {"status": "ok"}
    assert http.get("/__admin/tasks").json() == []
    bad = http.post("/__admin/config", json={"faults": [{"kind": "boom"}]})
    assert bad.status_code == 400 and "unknown fault kind 'boom'" in bad.json()["message"]


def test_media_it_serves_is_measured_for_real(mock):
    service, http, _ = mock
    task = http.post("/generate", json={"license": "k", "image_url": "https://example.com/p.jpg",
                                        "audio_url": "http://mock.test/media/obama_2s_mono.wav"}).json()["task_id"]
    assert service.simulator.tasks[task].speech_seconds == 2.0
    name = "0123abcd/Obama_5s.wav"
    assert http.put(f"/__admin/media/{name}", content=(SCENARIOS / "media" / "Obama_5s.wav").read_bytes()) \
        .status_code == 200
    task = http.post("/generate", json={"license": "k", "character_name": "girl2",
                                        "audio_url": f"https://anywhere/media/{name}"}).json()["task_id"]
    assert service.simulator.tasks[task].speech_seconds == pytest.approx(5.01, abs=0.01)
    assert http.get("/media/../conftest.py").status_code == 404


def test_unreachable_media_estimated_or_failed(mock):
    service, http, _ = mock
    body = {"license": "k", "image_url": "x", "audio_url": "https://example.com/audio.mp3"}
    task = http.post("/generate", json=body).json()["task_id"]
    assert service.simulator.tasks[task].speech_seconds == 5.0  # the configurable estimate
    http.post("/__admin/config", json={"unreachable_media": "fail", "timing": "fixed:1"})
    task = http.post("/generate", json=body).json()["task_id"]
    http.post("/__admin/clock", json={"advance": 2})
    assert http.get("/query_status", params={"license": "k", "task_id": task}).json() == {
        "status": "failed", "message": "could not download audio"}


def test_one_log_line_per_request_and_no_licence(mock):
    _, http, lines = mock
    http.post("/generate", json=TTS)
    http.get("/query_status", params={"license": FAKE_LICENSE, "task_id": "x"})
    http.get("/results/x.mp4", params={"sv": "2025", "sig": "secret-signature"})
    assert lines == ["POST /generate -> 200", "GET /query_status?license=***&task_id=x -> 404",
                     "GET /results/x.mp4?sv=2025&sig=*** -> 404"]


def test_openapi_document_names_the_nine_modes(mock):
    _, http, _ = mock
    doc = http.get("/openapi.json").json()
    modes = doc["paths"]["/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [m["title"] for m in modes][:2] == ["mode 1: video+audio_url", "mode 2: video+base64"] and len(modes) == 9


def test_the_asgi_app_also_works_through_httpx_asgi_transport():
    import anyio

    from mock_server import create_app

    service = create_service(seed=1, clock=ManualClock())

    async def main():
        transport = httpx.ASGITransport(app=create_app(service))
        async with httpx.AsyncClient(transport=transport, base_url="http://mock.test") as http:
            started = (await http.post("/generate", json=TTS)).json()
            status = (await http.get("/query_status", params={"license": "k", "task_id": started["task_id"]})).json()
            return started, status

    started, status = anyio.run(main)
    assert started["status"] == "started" and status == {"status": "started"}


def test_result_video_falls_back_to_the_bundled_file_without_pyav(monkeypatch):
    import builtins

    from mock_server import video

    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av":
            raise ImportError("no PyAV here")
        return real_import(name, *args, **kwargs)

    video._cached.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_av)
    try:
        data = video.result_video(7.3)
    finally:
        video._cached.cache_clear()
    assert data == video.FALLBACK.read_bytes() and data[4:8] == b"ftyp"


def test_downloads_that_arrive_together_encode_a_placeholder_once(monkeypatch):
    """A sweep's tasks end together and share a duration: each placeholder is encoded once, not once a thread."""
    import threading

    from mock_server import video

    calls: list[float] = []
    second = threading.Event()

    def encode(seconds: float) -> bytes:
        calls.append(seconds)
        if len(calls) > 1:
            second.set()
        second.wait(0.5)  # holds the first encode until a second one starts, if one ever can
        return b"mp4:%d" % len(calls)

    video._cached.cache_clear()
    monkeypatch.setattr(video, "_encode", encode)
    try:
        threads = [threading.Thread(target=video.result_video, args=(4.0,)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert video.result_video(4.0) == b"mp4:1"
    finally:
        video._cached.cache_clear()
    assert calls == [4.0]
