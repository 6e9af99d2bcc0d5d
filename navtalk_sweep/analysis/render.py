"""The simulated result: the given face, its mouth region opening and closing with the speech.

Not a lip-sync model: a picture of what the face controls select. The part of the face below
the mask line, inside the blend region the controls define, is stretched so the lips part and
the jaw drops in proportion to the speech's loudness, and brightens a little with it (so the
whole regenerated region is seen to change); everything else is the input, untouched.
A bbox_shift sweep therefore shows the animated region move, a cheek-width sweep shows it widen.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

import numpy as np

from navtalk_sweep.analysis._io import RATE, read_face, read_speech, write_mp4
from navtalk_sweep.analysis.face import Controls, Face, FaceTracker, Regions, regions
from navtalk_sweep.analysis.speech import loudness_at

__all__ = ["MARK", "render_result", "simulate", "speech_for_text"]

FPS: Final = 25
#: the visible mark on every simulated frame
MARK: Final = "SIMULATED"
#: faces larger than this are rendered at this size (the controls' pixels scaled with them)
MAX_SIDE: Final = 720
#: jaw drop at full loudness, as a share of the mouth's width
DROP: Final = 0.3
#: how much brighter the regenerated region gets at full loudness (0..255)
SHADE: Final = 16.0
#: openness is drawn in this many steps (a still face is drawn once per step)
LEVELS: Final = 32
_Shape = tuple[Face, Regions, np.ndarray, tuple[int, int, int, int]]
_INSIDE: Final = np.array([70, 28, 34], dtype=np.float32)  # the dark of an open mouth


def _tone_speech(text: str, seconds: float) -> np.ndarray:
    """A voiced buzz in syllable-sized bursts, one per vowel group of ``text``: speech-shaped loudness."""
    count = max(1, sum(1 for i, c in enumerate(text.lower()) if c in "aeiouy" and (i == 0 or text.lower()[i - 1]
                                                                                      not in "aeiouy")))
    n = max(1, int(seconds * RATE))
    t = np.arange(n) / RATE
    rate = count / max(seconds, 0.1)
    bursts = np.clip(np.sin(np.pi * rate * t), 0, None) ** 2
    voice = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420, 560), start=1))
    return (0.2 * bursts * voice).astype(np.float32)


def speech_for_text(text: str, seconds: float) -> np.ndarray:
    """Samples for text speech: espeak-ng or flite when installed, else :func:`_tone_speech`."""
    for tool, args in (("espeak-ng", ["-w"]), ("flite", ["-t", text, "-o"])):
        exe = shutil.which(tool)
        if exe is None:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            command = [exe, *args, str(wav)] + ([text] if tool == "espeak-ng" else [])
            try:
                subprocess.run(command, check=True, capture_output=True, timeout=30)
            except (OSError, subprocess.SubprocessError):
                continue
            samples = read_speech(wav)
            if samples is not None and len(samples):
                return samples
    return _tone_speech(text, seconds)


def _extent(alpha: np.ndarray) -> tuple[int, int, int, int]:
    """The bounding box (x1, y1, x2, y2) of where ``alpha`` blends anything in."""
    ys, xs = np.nonzero(alpha > 0.004)
    if not len(ys):
        return 0, 0, 0, 0
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _animate(rgb: np.ndarray, face: Face, area: Regions, alpha: np.ndarray, box: tuple[int, int, int, int],
             openness: float) -> np.ndarray:
    """One frame: the region below the mask line stretched open by ``openness`` (0..1), blended by ``alpha``
    inside ``box`` (its extent)."""
    import cv2

    h = rgb.shape[0]
    x1, y1, x2, y2 = box
    if openness <= 0.01 or x2 - x1 < 4 or y2 - y1 < 4:
        return rgb
    cx, lip = face.mouth_center
    top = float(area.mask_line)
    bottom = float(min(h - 1, area.face_box[3]))
    if not top < lip < bottom:
        return rgb
    xs = np.arange(x1, x2, dtype=np.float32)
    ys = np.arange(y1, y2, dtype=np.float32)[:, None]
    reach = max(4.0, 0.6 * face.mouth_width)
    weight = np.clip(1 - ((xs - cx) / reach) ** 2, 0, 1)[None, :] ** 1.5
    drop = DROP * face.mouth_width * openness * weight  # per column
    lift = 0.25 * drop
    src = ys + np.zeros_like(drop)
    upper = (ys >= top) & (ys < lip - lift)
    src = np.where(upper, top + (ys - top) * (lip - top) / np.maximum(1.0, lip - lift - top), src)
    lower = (ys >= lip + drop) & (ys <= bottom)
    src = np.where(lower, lip + (ys - lip - drop) * (bottom - lip) / np.maximum(1.0, bottom - lip - drop), src)
    inside = (ys >= lip - lift) & (ys < lip + drop) & (drop > 0.5)
    map_x = np.broadcast_to(xs[None, :], src.shape).astype(np.float32)
    moved = cv2.remap(rgb, map_x, src.astype(np.float32), cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    moved[inside] = _INSIDE
    moved += SHADE * openness  # the whole regenerated region changes, not only the lips: the controls show
    patch = rgb[y1:y2, x1:x2].astype(np.float32)
    a = alpha[y1:y2, x1:x2, None]
    out = rgb.copy()
    out[y1:y2, x1:x2] = (a * moved + (1 - a) * patch).astype(np.uint8)
    return out


def _mark(rgb: np.ndarray, area: Regions | None) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = max(0.4, w / 900)
    cv2.putText(rgb, MARK, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 3, cv2.LINE_AA)
    cv2.putText(rgb, MARK, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 40, 40), 1, cv2.LINE_AA)
    if area is not None:  # the crop's corners: a bbox_shift sweep shows the crop move
        x1, y1, x2, y2 = area.face_box
        arm = max(6, (x2 - x1) // 10)
        for x, y, dx, dy in ((x1, y1, 1, 1), (x2, y1, -1, 1), (x1, y2, 1, -1), (x2, y2, -1, -1)):
            cv2.line(rgb, (x, y), (x + dx * arm, y), (250, 210, 60), 1, cv2.LINE_AA)
            cv2.line(rgb, (x, y), (x, y + dy * arm), (250, 210, 60), 1, cv2.LINE_AA)
    return rgb


def _pingpong(count: int) -> Iterator[int]:
    """0, 1, ..., n-1, n-2, ..., 1, 0, 1, ...: a looped video with no jump at the seam."""
    if count <= 1:
        while True:
            yield 0
    while True:
        yield from range(count - 1)
        yield from range(count - 1, 0, -1)


def _fit(frames: list[np.ndarray], controls: Controls) -> tuple[list[np.ndarray], Controls]:
    import cv2

    h, w = frames[0].shape[:2]
    k = min(1.0, MAX_SIDE / max(h, w))
    size = (max(2, round(w * k)) // 2 * 2, max(2, round(h * k)) // 2 * 2)
    if k == 1.0 and size == (w, h):
        return frames, controls
    scaled = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    return scaled, Controls(round(controls.bbox_shift * k), round(controls.extra_margin * k), controls.parsing_mode,
                            controls.left_cheek_width, controls.right_cheek_width)


def render_result(face_media: bytes, speech: np.ndarray, controls: Controls | None = None) -> bytes | None:
    """An MP4 of ``face_media`` (a still or a video) animated by ``speech`` (16 kHz mono), or None
    when the media cannot be read or holds no face."""
    frames = read_face(face_media)
    if not frames:
        return None
    frames, controls = _fit(frames, controls or Controls())
    seconds = max(0.5, len(speech) / RATE)
    count = max(1, math.ceil(seconds * FPS))
    times = np.arange(count) / FPS
    loud = loudness_at(speech, times)
    openness = np.clip((loud - 0.25) / 0.6, 0, 1)  # silence and breath stay shut
    h, w = frames[0].shape[:2]
    tracker = FaceTracker(video=len(frames) > 1)
    geometry: dict[int, _Shape | None] = {}

    def shape_of(index: int) -> _Shape | None:
        if index not in geometry:
            face = tracker.find(frames[index])
            if face is None:
                geometry[index] = None
            else:
                area = regions(face, controls)
                alpha = area.alpha(w, h)
                geometry[index] = (face, area, alpha, _extent(alpha))
        return geometry[index]

    if shape_of(0) is None:
        tracker.close()
        return None

    drawn: dict[tuple[int, int], np.ndarray] = {}  # a still is drawn once per openness level

    def produce() -> Iterator[np.ndarray]:
        order = _pingpong(len(frames))
        last = geometry[0]
        for i in range(count):
            index = next(order)
            found = shape_of(index) or last
            last = found
            assert found is not None
            face, area, alpha, box = found
            level = round(float(openness[i]) * LEVELS)
            if (index, level) not in drawn:
                frame = _mark(_animate(frames[index], face, area, alpha, box, level / LEVELS), area)
                if len(frames) > 1:
                    yield frame
                    continue
                drawn[(index, level)] = frame
            yield drawn[(index, level)]

    try:
        return write_mp4(produce(), FPS, speech)
    finally:
        tracker.close()


def simulate(face_media: bytes, request: Mapping[str, Any], seconds: float, audio: bytes | None) -> bytes | None:
    """The mock's result for a request: its face animated by its speech (``audio``: the file's bytes,
    base64 decoded or downloaded; otherwise the request's text, spoken or toned), or None."""
    samples = read_speech(audio) if audio else None
    if samples is None or len(samples) < RATE // 10:
        samples = speech_for_text(str(request.get("content") or "simulated speech"), seconds)
    return render_result(face_media, samples, Controls.of(request))
