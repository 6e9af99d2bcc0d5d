from __future__ import annotations

import base64
import io
import wave

import pytest

from navtalk_sweep.clock import ManualClock
from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.simulator import Condition, Fault, Simulator, SimulatorConfig, Timing

TTS = {"license": "sk-test", "character_name": "girl2", "content": "Welcome to NavTalk.", "voice": "fable"}


def wav_base64(seconds: float, rate: int = 16000) -> str:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\0\0" * int(seconds * rate))
    return base64.b64encode(buf.getvalue()).decode()


def sim(**settings) -> tuple[Simulator, ManualClock]:
    clock = ManualClock()
    return Simulator(SimulatorConfig.from_dict(settings) if settings else None, clock=clock, seed=1), clock


def test_lifecycle_started_processing_done():
    s, clock = sim(timing="fixed:10")
    reply = s.submit(TTS)
    assert reply.status_code == 200 and reply.body["status"] == "started"
    task_id = reply.body["task_id"]
    seen = []
    for _ in range(6):
        seen.append(s.query("sk-test", task_id).body["status"])
        clock.advance(2.5)
    assert seen == ["started", "started", "processing", "processing", "done", "done"]
    assert s.query("sk-test", task_id).body["video_url"].startswith(f"/results/{task_id}.mp4?")
    assert s.calls == {"generate": 1, "query_status": 7}


def test_default_timing_follows_the_vendor_and_grows_with_speech():
    s, _ = sim()
    short = s.tasks[s.submit({**TTS, "content": "Hi."}).body["task_id"]]
    long = s.tasks[s.submit({**TTS, "content": "word " * 30}).body["task_id"]]
    audio = s.tasks[s.submit({"license": "k", "image_url": "x", "audio_base64": wav_base64(8)}).body["task_id"]]
    assert 5 <= short.duration < long.duration <= 20
    assert audio.speech_seconds == 8.0 and 5 <= audio.duration <= 20


@pytest.mark.parametrize(("body", "code", "message"), [
    ({**TTS, "license": ""}, 401, "invalid license"),
    ({**TTS, "voice": "robot"}, 400, "unknown voice 'robot'"),
    ({**TTS, "character_name": "boy9"}, 400, "unknown character_name 'boy9'"),
    ({**TTS, "image_url": "https://example.com/p.jpg"}, 400,
     "two face sources: image_url and character_name (give exactly one)"),
    ({**TTS, "bbox_shift": "3"}, 400, "bbox_shift must be an integer, got '3'"),
    ({**TTS, "parsing_mode": "chin"}, 400, "parsing_mode must be one of 'jaw', 'raw', got 'chin'"),
    ({"license": "k", "image_url": "x", "audio_base64": "%%%"}, 400, "audio_base64 is not valid base64"),
    ([1, 2], 400, "request body must be a JSON object"),
])
def test_rejections_use_the_documented_shape(body, code, message):
    s, _ = sim()
    reply = s.submit(body)
    assert (reply.status_code, reply.body) == (code, {"status": "error", "message": message})
    assert not s.tasks


def test_configured_licences_and_characters():
    s, _ = sim(licenses=["sk-test-good"], characters=["girl2", "boy1"])
    assert s.submit(TTS).status_code == 401
    assert s.submit({**TTS, "license": "sk-test-good", "character_name": "boy1"}).status_code == 200
    assert s.query("sk-test", "nope").status_code == 401
    assert s.query("sk-test-good", "nope").body == {"status": "error", "message": "task not found"}


def test_data_uri_prefix_on_base64_is_accepted():
    s, _ = sim()
    reply = s.submit({"license": "k", "image_url": "x", "audio_base64": "data:audio/wav;base64," + wav_base64(2)})
    assert reply.status_code == 200
    assert s.tasks[reply.body["task_id"]].speech_seconds == 2.0


def test_fault_plan_is_reproducible_by_seed():
    def answers(seed):
        s = Simulator(SimulatorConfig(faults=(Fault("http_503", probability=0.3),)), clock=ManualClock(), seed=seed)
        return [s.submit(TTS).status_code for _ in range(40)]

    assert answers(5) == answers(5)
    assert answers(5) != answers(6)
    assert 3 < answers(5).count(503) < 25


def test_fault_times_after_and_rules():
    s, clock = sim(faults=[
        {"kind": "rate_limit", "endpoint": "submit", "times": 1, "retry_after": 2},
        {"kind": "task_failed", "when": "bbox_shift > 7", "message": "face not found"},
        {"kind": "reject", "when": "character_name == 'girl2'", "after": 2, "message": "role retired"},
    ], timing="fixed:5")
    first = s.submit(TTS)
    assert first.status_code == 429 and first.headers == {"Retry-After": "2"}
    ok = s.submit({**TTS, "bbox_shift": 3}).body["task_id"]
    bad = s.submit({**TTS, "bbox_shift": 8}).body["task_id"]
    assert s.submit(TTS).body == {"status": "error", "message": "role retired"}
    clock.advance(6)
    assert s.query("k", ok).body["status"] == "done"
    assert s.query("k", bad).body == {"status": "failed", "message": "face not found"}


@pytest.mark.parametrize("kind", ["drop", "malformed_json", "html_error", "http_500", "http_502"])
def test_lost_answers_still_create_the_task(kind):
    s, _ = sim(faults=[{"kind": kind, "endpoint": "submit"}])
    reply = s.submit(TTS)
    assert reply.fault == kind or reply.status_code in (500, 502)
    assert len(s.tasks) == 1 and s.submits == {next(iter(s.submits)): 1}


def test_never_finish_and_unknown_status():
    s, clock = sim(faults=[{"kind": "never_finish", "times": 1}, {"kind": "unknown_status", "status": "queued"}],
                   timing="fixed:5")
    never = s.submit(TTS).body["task_id"]
    odd = s.submit(TTS).body["task_id"]
    clock.advance(1000)
    assert s.query("k", never).body == {"status": "processing"}
    assert s.query("k", odd).body == {"status": "queued"}


def test_unreachable_media_can_fail_the_task():
    s, clock = sim(unreachable_media="fail", timing="fixed:5")
    task = s.submit({"license": "k", "image_url": "x", "audio_url": "https://example.com/a.mp3"}).body["task_id"]
    clock.advance(6)
    assert s.query("k", task).body == {"status": "failed", "message": "could not download audio"}


def test_bad_settings_are_refused_with_a_reason():
    with pytest.raises(InvalidArgument, match="unknown fault kind 'boom'"):
        Fault("boom")
    with pytest.raises(InvalidArgument, match="unknown simulator setting"):
        SimulatorConfig.from_dict({"timeing": "fixed:1"})
    with pytest.raises(InvalidArgument, match="cannot read timing"):
        Timing.parse("sometimes")
    with pytest.raises(InvalidArgument, match="cannot read condition"):
        Condition.parse("bbox_shift >>> 3")
    rule = Fault("task_failed", when=Condition.parse('voice in ["onyx", "nova"]'))
    assert rule.when.matches({"voice": "nova"}) and not rule.when.matches({"voice": "echo"})
    assert hash(rule)  # faults key the simulator's counters


def test_dialects_where_the_vendor_is_silent():
    s, clock = sim(error_field="detail", unknown_task="failed", extra_fields=True, timing="fixed:2")
    assert s.submit({**TTS, "voice": "robot"}).body == {"status": "error", "detail": "unknown voice 'robot'"}
    assert s.query("k", "no-such-task").body == {"status": "failed"}
    started = s.submit(TTS).body
    assert started["status"] == "started" and started["api_version"] == "mock-1"
    clock.advance(3)
    done = s.query("k", started["task_id"]).body
    assert done["status"] == "done" and done["progress"] == 1.0


def test_lenient_dialects_accept_what_the_default_refuses():
    s, clock = sim(missing_voice="default", unknown_names="fail_later", double_source="first_wins",
                   timing="fixed:2")
    no_voice = s.submit({k: v for k, v in TTS.items() if k != "voice"})
    two_faces = s.submit({**TTS, "video_url": "https://example.com/v.mp4"})
    odd_role = s.submit({**TTS, "character_name": "boy9"})
    assert [r.status_code for r in (no_voice, two_faces, odd_role)] == [200, 200, 200]
    clock.advance(3)
    assert s.query("k", no_voice.body["task_id"]).body["status"] == "done"
    assert s.query("k", odd_role.body["task_id"]).body == {"status": "failed",
                                                           "message": "unknown character_name 'boy9'"}


def test_data_uri_can_be_refused_and_reasons_can_be_absent():
    s, _ = sim(data_uri="reject", error_field="")
    reply = s.submit({"license": "k", "image_url": "x", "audio_base64": "data:audio/wav;base64," + wav_base64(1)})
    assert (reply.status_code, reply.body) == (400, {"status": "error"})


def test_old_tasks_are_forgotten_past_the_cap_so_memory_stays_flat():
    s, _ = sim(max_tasks_kept=3)
    ids = [s.submit({**TTS, "bbox_shift": i}).body["task_id"] for i in range(5)]
    assert list(s.tasks) == ids[2:] and s.calls["tasks_forgotten"] == 2
    assert s.query("sk-test", ids[0]).status_code == 404  # as an expired result on a real service
    assert s.query("sk-test", ids[4]).status_code == 200
