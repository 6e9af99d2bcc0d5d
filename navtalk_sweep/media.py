"""Facts about media bytes: audio length, and video facts when PyAV is installed.

Sits beside ``contract`` at the bottom of the layers: pure functions on bytes and
files, no network. PyAV (the ``media`` extra) is imported lazily, only when needed.
"""

from __future__ import annotations

import io
import wave
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["PLACEHOLDER", "VideoFacts", "audio_seconds", "have_av", "is_placeholder", "probe_video", "sniff"]

#: the container comment of the mock's placeholder videos (no face it could see): nothing to measure
PLACEHOLDER = "navtalk-sweep mock placeholder"


def sniff(head: bytes) -> str | None:
    """What a file's first bytes say it is: "image", "video", "audio", or None (unknown bytes).

    The containers' own signatures (JPEG, PNG, GIF, WebP, BMP; ISO media, Matroska/WebM; WAV, MP3,
    FLAC, Ogg, AAC): enough to tell a face or speech from random bytes before anything is sent."""
    if head[:3] == b"\xff\xd8\xff" or head[:8] == b"\x89PNG\r\n\x1a\n" or head[:4] in (b"GIF8",) \
            or head[:2] == b"BM" or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return "image"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free") or head[:4] == b"\x1a\x45\xdf\xa3":
        return "video"  # ISO media (MP4, MOV, M4A: an m4a is audio in the same box; both decode with PyAV)
    if (head[:4] == b"RIFF" and head[8:12] == b"WAVE") or head[:3] == b"ID3" or head[:4] in (b"fLaC", b"OggS") \
            or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio"
    return None


def have_av() -> bool:
    """Whether PyAV (the ``media`` extra) can be imported."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def _wav_seconds(data: bytes) -> float | None:
    try:
        with wave.open(io.BytesIO(data)) as w:
            rate = w.getframerate()
            return round(w.getnframes() / rate, 3) if rate else None
    except (wave.Error, EOFError):
        return None


def audio_seconds(data: bytes) -> float | None:
    """Decoded length of an audio file's bytes (WAV always; MP3/M4A/... with PyAV), else None."""
    if data[:4] == b"RIFF":
        seconds = _wav_seconds(data)
        if seconds is not None:
            return seconds
    if not have_av():
        return None
    import av

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if container.duration:
                return round(container.duration / 1_000_000, 3)
            if stream.duration and stream.time_base:
                return round(float(stream.duration * stream.time_base), 3)
    except (av.FFmpegError, ValueError, OSError):
        return None
    return None


@dataclass(frozen=True)
class VideoFacts:
    """What a result video is, as probed from its container."""

    duration: float | None
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    audio_codec: str | None
    audio_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_video(source: str | bytes) -> VideoFacts:
    """Probe a video file (path or bytes) with PyAV; raises ValueError when it is not a video."""
    import av

    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with av.open(handle) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            duration = container.duration / 1_000_000 if container.duration else None
            audio_len = None
            if audio is not None and audio.duration and audio.time_base:
                audio_len = round(float(audio.duration * audio.time_base), 3)
            return VideoFacts(
                duration=round(duration, 3) if duration else None,
                width=video.codec_context.width if video else None,
                height=video.codec_context.height if video else None,
                fps=round(float(video.average_rate), 3) if video and video.average_rate else None,
                video_codec=video.codec_context.name if video else None,
                audio_codec=audio.codec_context.name if audio else None,
                audio_seconds=audio_len,
            )
    except (av.FFmpegError, IndexError, OSError) as exc:
        raise ValueError(f"not a playable video: {exc}") from exc


def is_placeholder(source: str | bytes) -> bool:
    """Whether a video is the mock's placeholder (its container says so)."""
    import av

    handle: Any = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with av.open(handle) as container:
            return bool(container.metadata.get("comment") == PLACEHOLDER)
    except (av.FFmpegError, OSError):
        return False
