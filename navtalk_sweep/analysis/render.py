"""The simulated result: the given face, its lower half regenerated the way MuseTalk does it.

Not a lip-sync model: a picture of what the face controls select and do. For each frame the crop
the controls define is taken to MuseTalk's working size (256 x 256), its mouth opened by warping
the face's own pixels (the lower lip and the jaw drop with the speech's loudness, the upper lip
lifts a little), resized back and pasted through the blend region, so only pixels inside the
crop, below the mask line and inside the blend mask change. ``docs/metrics.md`` ("The simulated
render") gives each mechanism and its source:

- how far the lips move follows where the mask line sits between landmarks 28 and 30
  (MuseTalk's ``assets/BBOX_SHIFT.md``); toward 28 the rest of the region loses detail instead;
- the round trip through 256 px softens a large face's mouth, not a small one's;
- the generator paints skin: where the blend region leaves the skin its colour shows as a seam;
- a jaw dropped past the crop's lower edge is cut there.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np

from navtalk_sweep.analysis._io import RATE, read_face, read_speech, write_mp4
from navtalk_sweep.analysis.face import Controls, Face, FaceTracker, detect_face, regions
from navtalk_sweep.analysis.speech import loudness_at

__all__ = ["MARK", "render_result", "simulate", "speech_for_text"]

FPS: Final = 25
#: the visible mark on every simulated frame
MARK: Final = "SIMULATED"
#: faces larger than this are rendered at this size (the controls' pixels scaled with them)
MAX_SIDE: Final = 720
#: MuseTalk's working size: the face crop is regenerated at 256 x 256 and resized back
WORK: Final = 256
#: jaw drop at full loudness with the mask line on landmark 30, as a share of the mouth's width (in the
#: frame: the generator draws the face it is given, so a crop squeezed or stretched into 256 x 256 opens
#: its mouth as far in the frame's pixels)
DROP: Final = 0.45
#: past landmark 30 the mask line nears the mouth still: the lips move more, up to this gain (0..1 is 28..30)
NEAR_MOUTH: Final = 1.5
#: the upper lip's lift, as a share of the jaw's drop
LIFT: Final = 0.2
#: an open mouth's inside: the lips' own pixels, this much darker
CAVITY: Final = 0.45
#: the generator's colour: the regenerated region drifts by this many levels toward warm, and off
#: the skin it paints skin, this much of the way
DRIFT: Final = np.array([7.0, 4.0, 2.0], dtype=np.float32)
OFF_SKIN: Final = 0.9
#: the neck, skin the generator keeps: the face's outline moved down by this share of its height
NECK: Final = 0.3
#: openness is drawn in this many steps (a still face is drawn once per step)
LEVELS: Final = 32


@dataclass(frozen=True)
class _Stage:
    """One source frame, ready to be drawn at any openness."""

    rgb: np.ndarray  # the source frame (uint8)
    box: tuple[int, int, int, int]  # the crop, clipped to the frame
    alpha: np.ndarray  # float32 blend alpha over the crop
    work: np.ndarray  # float32 WORK x WORK x 3: what the generator makes of the crop, mouth shut
    mouth: tuple[float, float, float, float]  # lip line y, mouth centre x, mouth width, lip top y (work px)
    gain: float  # jaw drop at full loudness (work px)


def lip_gain(face: Face, mask_line: float) -> float:
    """Where the mask line sits from landmark 28 (0) to landmark 30 (1), and on below it up to NEAR_MOUTH."""
    _, y28, _, y30 = face.bridge()
    return float(np.clip((mask_line - y28) / max(1.0, y30 - y28), 0.0, NEAR_MOUTH))


def _stage(rgb: np.ndarray, face: Face, controls: Controls) -> _Stage | None:
    import cv2

    h, w = rgb.shape[:2]
    area = regions(face, controls)
    x1, y1, x2, y2 = area.face_box
    box = (max(0, x1), max(0, y1), min(w, x2), min(h, y2))
    bx1, by1, bx2, by2 = box
    if bx2 - bx1 < 8 or by2 - by1 < 8:
        return None
    alpha = np.ascontiguousarray(area.alpha(w, h)[by1:by2, bx1:bx2])
    crop = rgb[by1:by2, bx1:bx2]
    sx, sy = WORK / (bx2 - bx1), WORK / (by2 - by1)
    work = cv2.resize(crop, (WORK, WORK), interpolation=cv2.INTER_AREA).astype(np.float32)
    # the generator paints skin: off the skin (the face's outline, and the neck below it) its output is
    # pulled toward the skin's colour. The neck is the outline moved down by NECK of its height: painting
    # the neck as well gave every default blend a seam under the chin (the shadow there turned skin-bright)
    oval = ((face.hull("oval") - np.array([bx1, by1])) * np.array([sx, sy])).astype(np.int32)
    skin = np.zeros((WORK, WORK), np.uint8)
    cv2.fillPoly(skin, [oval], 255)
    lower = skin.copy()
    lower[: WORK // 2] = 0
    tone = np.asarray(cv2.mean(work, mask=lower if lower.any() else skin)[:3], dtype=np.float32)
    cv2.fillPoly(skin, [oval + np.array([0, int(NECK * np.ptp(oval[:, 1]))], np.int32)], 255)
    off = cv2.GaussianBlur((skin == 0).astype(np.float32), (0, 0), 1.5)[..., None] * OFF_SKIN
    work = work * (1 - off) + tone * off + DRIFT
    # the mask line far from the mouth: the audio drives less of the lips and more of the rest,
    # which loses detail ("facial disappearance", BBOX_SHIFT.md)
    t = lip_gain(face, area.mask_line)
    cx, lip = face.mouth_center
    mx, ly, mw = (cx - bx1) * sx, (lip - by1) * sy, face.mouth_width * sx
    soft = (1 - min(t, 1.0)) * 1.6
    if soft > 0.05:
        blurred = cv2.GaussianBlur(work, (0, 0), soft)
        yy, xx = np.mgrid[0:WORK, 0:WORK].astype(np.float32)
        keep = np.clip(((xx - mx) / (0.9 * mw)) ** 2 + ((yy - ly) / (0.6 * mw)) ** 2 - 1, 0, 1)[..., None]
        work = work * (1 - keep) + blurred * keep
    top = (face.points[0, 1] - by1) * sy  # the upper lip's outer edge (mesh point 0)
    gain = DROP * face.mouth_width * sy * (0.25 + 0.75 * t)  # the frame's mouth width, in the crop's rows
    return _Stage(rgb, box, alpha, work, (ly, mx, mw, float(top)), gain)


def _draw(stage: _Stage, openness: float) -> np.ndarray:
    """One frame: the stage's crop with the mouth open by ``openness`` (0..1), resized back and blended."""
    import cv2

    work = stage.work
    if openness > 0.01:
        ly, mx, mw, top = stage.mouth
        xs = np.arange(WORK, dtype=np.float32)[None, :]
        ys = np.arange(WORK, dtype=np.float32)[:, None]
        bump = np.clip(np.cos(np.clip((xs - mx) / (0.55 * mw), -1, 1) * np.pi / 2), 0, 1) ** 1.5  # the mouth, corners shut
        drop = stage.gain * openness * bump  # per column: the jaw, lower lip and chin move down rigidly
        lift = LIFT * drop
        top = min(top, ly - 1.0)
        src = ys + np.zeros_like(drop)
        upper = (ys >= top) & (ys < ly - lift)  # the upper lip, squeezed up by ``lift``
        src = np.where(upper, top + (ys - top) * (ly - top) / np.maximum(1.0, ly - lift - top), src)
        gap = (ys >= ly - lift) & (ys < ly + drop)
        src = np.where(gap, ly, src)  # the lips' meeting line, stretched over the opening
        src = np.where(ys >= ly + drop, ys - drop, src)  # what passes the crop's lower edge is cut there
        map_x = np.broadcast_to(xs, src.shape).astype(np.float32)
        work = cv2.remap(work, map_x, src.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        shade = np.where(gap & (drop > 0.5), CAVITY, 1.0).astype(np.float32)
        work = work * cv2.GaussianBlur(shade, (0, 0), 1.0)[..., None]
    bx1, by1, bx2, by2 = stage.box
    back = cv2.resize(work, (bx2 - bx1, by2 - by1), interpolation=cv2.INTER_LINEAR)
    crop = stage.rgb[by1:by2, bx1:bx2].astype(np.float32)
    a = stage.alpha[..., None]
    out = stage.rgb.copy()
    out[by1:by2, bx1:bx2] = np.clip(np.rint(crop + a * (back - crop)), 0, 255).astype(np.uint8)
    return out


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


def mark_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where the ``SIMULATED`` mark is drawn (x1, y1, x2, y2): measures leave it out of a simulated video."""
    scale = max(0.4, width / 900)
    return 0, max(0, height - 10 - int(34 * scale)), min(width, 16 + int(190 * scale)), height


def _mark(rgb: np.ndarray) -> np.ndarray:
    import cv2

    h, w = rgb.shape[:2]
    scale = max(0.4, w / 900)
    cv2.putText(rgb, MARK, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 3, cv2.LINE_AA)
    cv2.putText(rgb, MARK, (8, h - 10), cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 40, 40), 1, cv2.LINE_AA)
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
    return scaled, controls.scaled(k)


def render_result(face_media: bytes, speech: np.ndarray, controls: Controls | None = None) -> bytes | None:
    """An MP4 of ``face_media`` (a still or a video) animated by ``speech`` (16 kHz mono), or None
    when the media cannot be read or holds no face. The same input always gives the same bytes."""
    frames = read_face(face_media)
    if not frames:
        return None
    frames, controls = _fit(frames, controls or Controls())
    seconds = max(0.5, len(speech) / RATE)
    count = max(1, math.ceil(seconds * FPS))
    loud = loudness_at(speech, np.arange(count) / FPS)
    openness = np.clip((loud - 0.25) / 0.6, 0, 1)  # silence and breath stay shut
    # a still is searched once, by the process's still-image detector (a graph of its own cost 15 ms a render)
    tracker = FaceTracker(video=True) if len(frames) > 1 else None
    with tracker or contextlib.nullcontext():
        find = tracker.find if tracker is not None else detect_face
        stages: dict[int, _Stage | None] = {}

        def stage_of(index: int) -> _Stage | None:
            if index not in stages:
                face = find(frames[index])
                stages[index] = None if face is None else _stage(frames[index], face, controls)
            return stages[index]

        if stage_of(0) is None:
            return None
        drawn: dict[int, np.ndarray] = {}  # a still is drawn once per openness level

        def produce() -> Iterator[np.ndarray]:
            order = _pingpong(len(frames))
            last = stages[0]
            for i in range(count):
                index = next(order)
                found = stage_of(index)
                level = round(float(openness[i]) * LEVELS)
                if found is None:  # no face in this frame: it passes as it is, as MuseTalk keeps the last box
                    found = last if last is not None and last.rgb is frames[index] else None
                if found is None:
                    yield _mark(frames[index].copy())
                    continue
                last = found
                if len(frames) > 1:
                    yield _mark(_draw(found, level / LEVELS))
                    continue
                if level not in drawn:
                    drawn[level] = _mark(_draw(found, level / LEVELS))
                yield drawn[level]

        return write_mp4(produce(), FPS, speech, comment=MARK, repeats=len(frames) == 1)


def simulate(face_media: bytes, request: Mapping[str, Any], seconds: float, audio: bytes | None) -> bytes | None:
    """The mock's result for a request: its face animated by its speech (``audio``: the file's bytes,
    base64 decoded or downloaded; otherwise the request's text, spoken or toned), or None."""
    samples = read_speech(audio) if audio else None
    if samples is None or len(samples) < RATE // 10:
        samples = speech_for_text(str(request.get("content") or "simulated speech"), seconds)
    return render_result(face_media, samples, Controls.of(request))
