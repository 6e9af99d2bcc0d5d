from __future__ import annotations

import pytest

from navtalk_sweep.contract import FACE_CONTROLS, VOICES, Mode, mode_of, redact, redact_license, redact_request
from navtalk_sweep.errors import ContractViolation

FACES = {"video_url": "https://example.com/v.mp4", "image_url": "https://example.com/p.jpg",
         "character_name": "girl2"}
SPEECH = {"audio_url": {"audio_url": "https://example.com/a.mp3"}, "audio_base64": {"audio_base64": "UklGRg=="},
          "content": {"content": "Welcome to NavTalk.", "voice": "nova"}}


@pytest.mark.parametrize("mode", list(Mode))
def test_each_mode_is_recognised(mode):
    body = {"license": "sk-test", mode.face_field: FACES[mode.face_field], **SPEECH[mode.speech_field]}
    assert mode_of(body) is mode


@pytest.mark.parametrize(("body", "reason"), [
    ({"content": "hi", "voice": "nova"}, "no face source: give one of video_url, image_url, character_name"),
    ({"character_name": "girl2", "image_url": "x", "content": "hi", "voice": "nova"},
     "two face sources: image_url and character_name (give exactly one)"),
    ({"character_name": "girl2"}, "no speech source: give one of audio_url, audio_base64, content"),
    ({"character_name": "girl2", "audio_url": "a", "content": "hi"},
     "two speech sources: audio_url and content (give exactly one)"),
    ({"character_name": "girl2", "content": "hi"}, ("content needs a voice (one of alloy, echo, fable, onyx, nova, "
                                                   "shimmer)")),
    ({"character_name": "girl2", "audio_url": "a", "voice": "nova"},
     "voice is only for text speech, not with audio_url"),
])
def test_violations_say_why(body, reason):
    with pytest.raises(ContractViolation) as info:
        mode_of(body)
    assert str(info.value) == reason


def test_contract_facts():
    assert list(VOICES) == ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]
    assert {n: c.default for n, c in FACE_CONTROLS.items()} == {
        "bbox_shift": 0, "extra_margin": 10, "parsing_mode": "jaw", "left_cheek_width": 90, "right_cheek_width": 90}
    assert FACE_CONTROLS["bbox_shift"].outside_suggestion(10) and not FACE_CONTROLS["bbox_shift"].outside_suggestion(9)
    assert Mode(4).label == "image+tts"


def test_redaction_catches_both_key_shapes():
    real_shape = "sk_navtalk_" + "A1b2" * 8
    text = f"bad key {real_shape} and sk-xxx and license=sk-test-12345678"
    out = redact(text)
    assert real_shape not in out and "sk-xxx" not in out and "sk-test-12345678" not in out
    assert "sk-…5678" in out
    assert redact_license("sk-test-12345678") == "sk-…5678"
    assert redact("token abcdefgh", ["abcdefgh"]) == "token sk-…"


def test_redact_request_shortens_base64_and_hides_licence():
    out = redact_request({"license": "sk-test-abcdefgh", "audio_base64": "A" * 1000})
    assert out["license"] == "sk-…efgh"
    assert out["audio_base64"].endswith("(1000 chars)") and len(out["audio_base64"]) < 60
    sent = {"license": "sk-test-abcdefgh", "audio_base64": "A" * 1000}
    redact_request(sent)
    assert sent["license"] == "sk-test-abcdefgh"  # the body sent is not changed
    fit = {"image_url": "https://example.com/a.jpg", "audio_base64": "QUJD"}
    assert redact_request(fit) is fit  # nothing to hide: shared, not copied (a record per case holds it)
