"""Playable result videos: a real MP4 (H.264 + AAC) as long as the speech.

Encoded with PyAV when the ``media`` extra is installed (about 0.1 s for ten seconds
of 512x512 at 12 fps); otherwise a small bundled MP4 of one second stands in.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

FALLBACK = Path(__file__).with_name("fallback.mp4")
SIZE, FPS, RATE = 512, 12, 16000


def _encode(seconds: float) -> bytes:
    import av
    import numpy as np

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as out:
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


def result_video(seconds: float) -> bytes:
    """An MP4 about ``seconds`` long (to 0.1 s; at least 0.5 s)."""
    return _cached(max(5, round(seconds * 10)))
