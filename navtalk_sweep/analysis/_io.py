"""Media in and out for the analysis layer: images, video frames, speech samples, MP4 writing.

PyAV decodes and encodes (its wheel carries FFmpeg); OpenCV reads still images.
Everything takes a path or the file's bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Source = str | Path | bytes

#: the rate speech is analysed at: enough for a 50-4000 Hz speech band
RATE = 16000


def _handle(source: Source) -> Any:
    return io.BytesIO(source) if isinstance(source, bytes) else str(source)


def _raw(source: Source) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


def read_image(source: Source) -> np.ndarray | None:
    """An RGB image from a still's bytes, or None when they are not a still image."""
    import cv2

    data = np.frombuffer(_raw(source), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        return None
    return np.ascontiguousarray(image[:, :, ::-1])


@dataclass(frozen=True)
class Frame:
    time: float
    rgb: np.ndarray


def iter_frames(source: Source, *, max_side: int | None = None) -> Iterator[Frame]:
    """The frames of a video with their presentation times (variable frame rates kept)."""
    import av

    with av.open(_handle(source)) as container:
        if not container.streams.video:
            return
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scale: tuple[int, int] | None = None
        for frame in container.decode(stream):
            if scale is None:
                w, h = frame.width, frame.height
                k = min(1.0, max_side / max(w, h)) if max_side else 1.0
                scale = (max(2, round(w * k)), max(2, round(h * k)))
            rgb = frame.to_ndarray(format="rgb24", width=scale[0], height=scale[1])
            yield Frame(float(frame.time or 0.0), rgb)


def read_frames(source: Source, *, limit: int | None = None, max_side: int | None = None) -> list[Frame]:
    out = []
    for frame in iter_frames(source, max_side=max_side):
        out.append(frame)
        if limit is not None and len(out) >= limit:
            break
    return out


def read_face(source: Source, *, limit: int = 750) -> list[np.ndarray]:
    """A face source as RGB frames: one for a still, a video's first ``limit``; empty when unreadable."""
    image = read_image(source)
    if image is not None:
        return [image]
    try:
        return [f.rgb for f in read_frames(source, limit=limit)]
    except Exception:  # noqa: BLE001 - PyAV raises many kinds for bytes that are not media
        return []


def container_facts(source: Source) -> tuple[int, str]:
    """The video stream's frame count as the container states it (0 when unknown) and the container's
    ``comment`` metadata (""), read from the header alone; (0, "") when unreadable."""
    import av

    try:
        with av.open(_handle(source)) as container:
            frames = int(container.streams.video[0].frames) if container.streams.video else 0
            return frames, str(container.metadata.get("comment", ""))
    except (av.FFmpegError, ValueError, OSError):
        return 0, ""


def read_speech(source: Source, rate: int = RATE) -> np.ndarray | None:
    """The first audio stream as mono float32 samples at ``rate``, or None when there is none."""
    import av

    try:
        with av.open(_handle(source)) as container:
            if not container.streams.audio:
                return None
            resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = []
            for frame in container.decode(container.streams.audio[0]):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except (av.FFmpegError, ValueError, OSError):
        return None
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)


def write_mp4(frames: Iterable[np.ndarray], fps: float, speech: np.ndarray | None, rate: int = RATE,
              *, crf: int = 28, comment: str | None = None, repeats: bool = False) -> bytes:
    """H.264 + AAC in MP4 from RGB frames (even sizes) and mono float samples; ``comment`` in its metadata.

    ``repeats``: ``frames`` gives the same few arrays again and again (a still face's drawings, one per mouth
    opening): each is converted to the encoder's YUV once, not every time it is shown (the conversion was
    most of an encode's time); the bytes are the same either way."""
    import av

    buf = io.BytesIO()
    converted: dict[int, tuple[np.ndarray, Any]] = {}  # id -> (the array, kept so the id stays its own; its frame)
    with av.open(buf, mode="w", format="mp4") as out:
        if comment is not None:
            out.metadata["comment"] = comment
        video = out.add_stream("libx264", rate=round(fps), options={"preset": "ultrafast", "crf": str(crf)})
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=rate, layout="mono") if speech is not None else None
        sized = False
        for rgb in frames:
            if not sized:
                video.height, video.width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
                sized = True
            known = converted.get(id(rgb))
            if known is not None and known[0] is rgb:
                frame = known[1]
            else:
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[: video.height, : video.width]),
                                                   format="rgb24")
                if repeats:
                    frame = frame.reformat(format="yuv420p")
                    converted[id(rgb)] = (rgb, frame)
            frame.pts = None  # a frame shown again is timed anew (the encoder counts frames without a time)
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        if audio is not None and speech is not None:
            _encode_speech(out, audio, speech, rate)
    return buf.getvalue()


def _encode_speech(out: Any, audio: Any, speech: np.ndarray, rate: int) -> None:
    import av

    samples = np.clip(speech, -1, 1).astype(np.float32).reshape(1, -1)
    for start in range(0, samples.shape[1], 1024):
        chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples[:, start : start + 1024]),
                                           format="fltp", layout="mono")
        chunk.sample_rate, chunk.pts = rate, start
        for packet in audio.encode(chunk):
            out.mux(packet)
    for packet in audio.encode():
        out.mux(packet)


def replace_sound(source: Source, speech: np.ndarray, rate: int = RATE) -> bytes:
    """The video's own packets, untouched (variable frame rates kept), with ``speech`` as its sound (AAC, MP4)."""
    import av

    buf = io.BytesIO()
    with av.open(_handle(source)) as original, av.open(buf, mode="w", format="mp4") as out:
        picture = original.streams.video[0]
        copy = out.add_stream_from_template(picture)
        audio = out.add_stream("aac", rate=rate, layout="mono")
        for packet in original.demux(picture):
            if packet.dts is None:  # the demuxer's flush packet
                continue
            packet.stream = copy
            out.mux(packet)
        _encode_speech(out, audio, speech, rate)
    return buf.getvalue()
