"""Playable result videos: the face the request gave, animated by its speech, or a placeholder.

When the face is readable (a file the mock serves, an upload, a loopback URL) and the ``face``
extra is installed, the result is that face with the region its controls select moving with the
speech (``navtalk_sweep.analysis.render``; about 0.3 s of CPU for five seconds of video, in the
analysis pool's worker processes when the run has them). Otherwise a placeholder as long as the
speech: encoded with PyAV when the ``media`` extra is installed (about 0.1 s for ten seconds of
512x512 at 12 fps), else a small bundled MP4 of one second.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from navtalk_sweep.media import PLACEHOLDER

FALLBACK = Path(__file__).with_name("fallback.mp4")
SIZE, FPS, RATE = 512, 12, 16000


def _encode(seconds: float) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
        out.metadata["comment"] = PLACEHOLDER  # measuring it would only find that it has no face
        video = out.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "crf": "32"})
        video.width = video.height = SIZE
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=RATE, layout="mono")
        frames = max(1, round(seconds * FPS))
        base = np.full((SIZE, SIZE, 3), 48, dtype=np.uint8)
        for i in range(frames):
            img = base.copy()
            bar = int(SIZE * (i + 1) / frames)
            img[SIZE - 24 :, :bar] = (90, 180, 240)  # progress bar: seeking shows where you are
            mouth = 20 + int(30 * abs(math.sin(i / 2.0)))
            img[300 : 300 + mouth, 200:312] = (200, 80, 90)  # a "mouth" that moves
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        samples = int(seconds * RATE)
        t = np.arange(samples, dtype=np.float32) / RATE
        tone = (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32).reshape(1, -1)
        step = 1024
        for start in range(0, samples, step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(tone[:, start : start + step]), format="fltp",
                                               layout="mono")
            frame.sample_rate = RATE
            frame.pts = start
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return buf.getvalue()


@lru_cache(maxsize=64)
def _cached(tenths: int) -> bytes:
    try:
        return _encode(tenths / 10)
    except ImportError:
        return FALLBACK.read_bytes()


_encoding = threading.Lock()


def result_video(seconds: float) -> bytes:
    """An MP4 about ``seconds`` long (to 0.1 s; at least 0.5 s).

    One encode at a time: the tasks of a sweep end together and mostly share a duration, so without the
    lock each download thread encoded the same placeholder before the first one reached the cache.
    """
    with _encoding:
        return _cached(max(5, round(seconds * 10)))


_rendered: OrderedDict[str, bytes] = OrderedDict()
_rendered_lock = threading.Lock()
#: rendered videos kept (a report's grid asks for each one more than once)
KEEP_RENDERED = 32


def _audio(request: Mapping[str, Any], fetch: Callable[[str], bytes | None], audio_base64: str | None) -> bytes | None:
    if audio_base64:
        try:
            return base64.b64decode(audio_base64.partition(",")[2] if audio_base64.startswith("data:")
                                    else audio_base64, validate=True)
        except (binascii.Error, ValueError):
            return None
    url = request.get("audio_url")
    return fetch(url) if isinstance(url, str) else None


def face_url(request: Mapping[str, Any]) -> str | None:
    """The URL of the face a request sends (a video's or an image's), or None (a built-in character)."""
    url = request.get("video_url") or request.get("image_url")
    return url if isinstance(url, str) else None


def simulated_video(request: Mapping[str, Any], seconds: float, fetch: Callable[[str], bytes | None],
                    audio_base64: str | None = None, *, pooled: bool = True) -> bytes | None:
    """The face of ``request`` animated by its speech, or None when the mock cannot see a face; rendered in
    the analysis pool when this process has one and ``pooled``."""
    from navtalk_sweep import analysis

    url = face_url(request)
    if url is None or not analysis.available():
        return None
    face = fetch(url)
    if not face:
        return None
    from navtalk_sweep.analysis.pool import call
    from navtalk_sweep.analysis.render import simulate

    audio = _audio(request, fetch, audio_base64)
    digest = hashlib.sha256(face)
    digest.update(audio or b"")
    digest.update(json.dumps(dict(request), sort_keys=True, default=str).encode())
    key = digest.hexdigest()
    with _rendered_lock:
        if key in _rendered:
            _rendered.move_to_end(key)
            return _rendered[key]
    video = call(simulate, face, dict(request), seconds, audio) if pooled else simulate(face, request, seconds, audio)
    if video is not None:
        with _rendered_lock:
            _rendered[key] = video
            while len(_rendered) > KEEP_RENDERED:
                _rendered.popitem(last=False)
    return video
