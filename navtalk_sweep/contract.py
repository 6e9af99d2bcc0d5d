"""The NavTalk batch API as types: the single source of truth for names and numbers.

Every other layer (scenarios, simulator, client, report, JSON Schema) reads the
modes, voices, face controls and statuses from here; none repeats them.
See ``shared/NAVTALK_CONTRACT.md`` for the prose version.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from navtalk_sweep.errors import ContractViolation, one_line

__all__ = [
    "DEFAULT_CHARACTERS",
    "DEFAULT_GENERATE_URL",
    "DEFAULT_STATUS_URL",
    "FACE_CONTROLS",
    "FACE_FIELDS",
    "KNOWN_STATUSES",
    "SPEECH_FIELDS",
    "TERMINAL_STATUSES",
    "VOICES",
    "FaceControl",
    "Mode",
    "error_message",
    "estimate_text_seconds",
    "mode_of",
    "redact",
    "redact_license",
    "redact_request",
    "request_id",
]

DEFAULT_GENERATE_URL: Final = "https://app.navtalk.ai/generate"
DEFAULT_STATUS_URL: Final = "https://api.navtalk.ai/query_status"

VOICES: Final[Mapping[str, str]] = {
    "alloy": "neutral authority",
    "echo": "casual, friendly",
    "fable": "warm narrative",
    "onyx": "profound drama",
    "nova": "high energy",
    "shimmer": "dreamy, light",
}

#: Built-in roles the vendor's examples name; the simulator's list is configurable.
DEFAULT_CHARACTERS: Final = ("girl2",)

FACE_FIELDS: Final = ("video_url", "image_url", "character_name")
SPEECH_FIELDS: Final = ("audio_url", "audio_base64", "content")

KNOWN_STATUSES: Final = ("started", "processing", "done", "failed")
TERMINAL_STATUSES: Final = frozenset({"done", "failed"})


@dataclass(frozen=True)
class FaceControl:
    """One optional face control inherited from MuseTalk."""

    name: str
    default: int | str
    #: inclusive (low, high) for numbers; None for choice controls
    suggested: tuple[int, int] | None
    choices: tuple[str, ...] | None
    meaning: str

    def outside_suggestion(self, value: object) -> bool:
        """True when ``value`` is allowed but outside the vendor's suggestion."""
        if self.suggested is not None and isinstance(value, int):
            return not self.suggested[0] <= value <= self.suggested[1]
        return False

    def check_type(self, value: object) -> str | None:
        """Why ``value`` can never be sent for this control, or None when it can."""
        if self.choices is not None:
            if value not in self.choices:
                return f"{self.name} must be one of {', '.join(map(repr, self.choices))}, got {value!r}"
        elif isinstance(value, bool) or not isinstance(value, int):
            return f"{self.name} must be an integer, got {value!r}"
        return None


FACE_CONTROLS: Final[Mapping[str, FaceControl]] = {
    c.name: c
    for c in (
        FaceControl("bbox_shift", 0, (-9, 9), None, "vertical shift of the face crop; + moves down"),
        FaceControl("extra_margin", 10, (0, 50), None, "extra pixels around the crop"),
        FaceControl("parsing_mode", "jaw", None, ("jaw", "raw"), "how the jaw region is parsed"),
        FaceControl("left_cheek_width", 90, (50, 150), None, "blend width on the left cheek"),
        FaceControl("right_cheek_width", 90, (50, 150), None, "blend width on the right cheek"),
    )
}


class Mode(enum.IntEnum):
    """The nine supported combinations of one face source and one speech source."""

    VIDEO_AUDIO_URL = 1
    VIDEO_AUDIO_BASE64 = 2
    VIDEO_TEXT = 3
    IMAGE_TEXT = 4
    IMAGE_AUDIO_URL = 5
    IMAGE_AUDIO_BASE64 = 6
    CHARACTER_AUDIO_URL = 7
    CHARACTER_AUDIO_BASE64 = 8
    CHARACTER_TEXT = 9

    @property
    def face_field(self) -> str:
        return _MODE_FIELDS[self][0]

    @property
    def speech_field(self) -> str:
        return _MODE_FIELDS[self][1]

    @property
    def label(self) -> str:
        """Short human name, e.g. ``image+tts``."""
        face = {"video_url": "video", "image_url": "image", "character_name": "character"}[self.face_field]
        speech = {"audio_url": "audio_url", "audio_base64": "base64", "content": "tts"}[self.speech_field]
        return f"{face}+{speech}"

    @classmethod
    def for_fields(cls, face_field: str, speech_field: str) -> Mode:
        return _FIELDS_MODE[(face_field, speech_field)]


_MODE_FIELDS: Final = {
    Mode.VIDEO_AUDIO_URL: ("video_url", "audio_url"),
    Mode.VIDEO_AUDIO_BASE64: ("video_url", "audio_base64"),
    Mode.VIDEO_TEXT: ("video_url", "content"),
    Mode.IMAGE_TEXT: ("image_url", "content"),
    Mode.IMAGE_AUDIO_URL: ("image_url", "audio_url"),
    Mode.IMAGE_AUDIO_BASE64: ("image_url", "audio_base64"),
    Mode.CHARACTER_AUDIO_URL: ("character_name", "audio_url"),
    Mode.CHARACTER_AUDIO_BASE64: ("character_name", "audio_base64"),
    Mode.CHARACTER_TEXT: ("character_name", "content"),
}
_FIELDS_MODE: Final = {fields: mode for mode, fields in _MODE_FIELDS.items()}


def _present(body: Mapping[str, Any], field: str) -> bool:
    value = body.get(field)
    return value is not None and value != ""


def mode_of(body: Mapping[str, Any], *, require_license: bool = False) -> Mode:
    """The mode (1..9) a submit body asks for; raises ContractViolation saying why none.

    Only the combination of fields is judged here; whether a voice or character
    exists, or a licence is valid, is the service's (or simulator's) business.
    """
    if require_license and not _present(body, "license"):
        raise ContractViolation("missing field 'license'")
    faces = [f for f in FACE_FIELDS if _present(body, f)]
    speeches = [f for f in SPEECH_FIELDS if _present(body, f)]
    if not faces:
        raise ContractViolation("no face source: give one of video_url, image_url, character_name")
    if len(faces) > 1:
        raise ContractViolation(f"two face sources: {' and '.join(faces)} (give exactly one)")
    if not speeches:
        raise ContractViolation("no speech source: give one of audio_url, audio_base64, content")
    if len(speeches) > 1:
        raise ContractViolation(f"two speech sources: {' and '.join(speeches)} (give exactly one)")
    speech = speeches[0]
    if speech == "content" and not _present(body, "voice"):
        raise ContractViolation("content needs a voice (one of " + ", ".join(VOICES) + ")")
    if speech != "content" and _present(body, "voice"):
        raise ContractViolation(f"voice is only for text speech, not with {speech}")
    return Mode.for_fields(faces[0], speech)


def error_message(body: object) -> str | None:
    """The failure reason in an error body, whichever field the server used, on one line."""
    if isinstance(body, Mapping):
        for key in ("message", "error", "msg", "detail"):
            value = body.get(key)
            if value:
                return one_line(value if isinstance(value, str) else str(value)) or None
    return None


#: about 150 spoken words a minute, as TTS voices tend to speak
_WORDS_PER_SECOND: Final = 2.5


def estimate_text_seconds(text: str) -> float:
    """Rough spoken length of ``text``; never less than one second."""
    words = len(text.split())
    # scripts without spaces (Chinese, Japanese) are about four characters a second
    by_chars = len(text.replace(" ", "")) / 14.0
    return round(max(1.0, words / _WORDS_PER_SECOND, by_chars if words <= 2 else 0.0), 2)


_KEY_PATTERNS: Final = re.compile(r"sk_navtalk_[A-Za-z0-9]{6,}|sk-[A-Za-z0-9_\-]{2,}")


def redact_license(key: str | None) -> str:
    """``sk-…last4`` at most: enough to tell keys apart, never enough to use one."""
    if not key:
        return ""
    return f"sk-…{key[-4:]}" if len(key) > 8 else "sk-…"


def redact(text: str, secrets: tuple[str, ...] | list[str] = ()) -> str:
    """``text`` with every known secret and every key-shaped string redacted."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, redact_license(secret))
    return _KEY_PATTERNS.sub(lambda m: redact_license(m.group(0)), text)


def redact_request(body: Mapping[str, Any], *, keep_base64: int = 24) -> Mapping[str, Any]:
    """A submit body fit for a report (read-only): licence redacted, base64 shortened; ``body`` itself when
    it already is (a run's 50,000 records share their cases' requests instead of copying them)."""
    b64 = body.get("audio_base64")
    short = f"{b64[:keep_base64]}… ({len(b64)} chars)" if isinstance(b64, str) and len(b64) > keep_base64 else None
    if "license" not in body and short is None:
        return body
    out = dict(body)
    if "license" in out:
        out["license"] = redact_license(str(out["license"]))
    if short is not None:
        out["audio_base64"] = short
    return out


#: a local file as a target serves it after upload: ``<base>/media/<content digest>/<name>`` (a scenario's
#: ``media://<digest>/<name>`` token); the digest, not the host and port, says which file it is
_UPLOADED = re.compile(r"https?://[^/?#]+(?:/[^?#]*)?/media/([0-9a-f]{16}/[^/?#]+)")


def request_id(body: Mapping[str, Any]) -> str:
    """Stable 12-hex id of what a request asks for (the licence left out).

    Scenario cases are named by it, and the simulator counts submits by it, so a test
    can check that each case reached the service exactly once. An uploaded local file counts
    as its content (its ``media://`` token), not as the address it was served at: a run
    recorded against a mock on one port replays on any other, or on another machine.
    """
    asked = {k: (f"media://{m.group(1)}" if isinstance(v, str) and (m := _UPLOADED.fullmatch(v)) else v)
             for k, v in body.items() if k != "license"}
    canonical = json.dumps(asked, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
