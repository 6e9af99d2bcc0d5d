"""Copies of real talking clips with defects of known size, and the change measures of each copy.

Used by the perturbation tests (development clips in ``tests/data/media``) and by
``benchmarks/validate_measures.py`` (the held-out clips), so both measure the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from navtalk_sweep.analysis._io import read_frames, write_mp4
from navtalk_sweep.analysis.change import ChangeCollector, ChangeMeasures, Comparison
from navtalk_sweep.analysis.face import Face, FaceTracker

#: frames of each clip used, and the size they are brought to (the measures work at 256 px)
FRAMES, SIDE = 40, 384


@dataclass(frozen=True)
class Clip:
    frames: list[np.ndarray]
    faces: list[Face | None]


@cache  # each clip's frames and faces once per process, not once per test
def clip(path: Path) -> Clip:
    import cv2

    frames = []
    for frame in read_frames(path, limit=FRAMES):
        h, w = frame.rgb.shape[:2]
        k = SIDE / max(h, w)
        frames.append(cv2.resize(frame.rgb, (round(w * k) // 2 * 2, round(h * k) // 2 * 2),
                                 interpolation=cv2.INTER_AREA))
    with FaceTracker(video=True) as tracker:
        faces = [tracker.find(f) for f in frames]
    return Clip(frames, faces)


def lower_face_mask(c: Clip) -> np.ndarray:
    """A fixed ellipse over the first frame's lower face: where a paste defect goes."""
    import cv2

    face = next(f for f in c.faces if f is not None)
    h, w = c.frames[0].shape[:2]
    mask = np.zeros((h, w), np.float32)
    cx, cy = face.mouth_center
    axes = (int(0.9 * face.mouth_width), int(0.7 * face.mouth_width))
    cv2.ellipse(mask, (int(cx), int(cy + 0.2 * face.mouth_width)), axes, 0, 0, 360, 1.0, -1)
    return mask


#: the feathered paste's edge: a Gaussian of this many mouth widths (about 6 px on the development clips at
#: 384 px, whose mouths are 38-74 px wide); fixed at 6 px it was as wide as the pasted ellipse itself on a
#: wide shot's small face
FEATHER: float = 0.1


def paste(c: Clip, step: float, feather: bool) -> list[np.ndarray]:
    """Every frame with the lower-face ellipse ``step`` levels brighter (its edge blurred by ``FEATHER``
    mouth widths when ``feather``)."""
    import cv2

    mask = lower_face_mask(c)
    if feather:
        mouth_width = next(f for f in c.faces if f is not None).mouth_width
        mask = cv2.GaussianBlur(mask, (0, 0), FEATHER * mouth_width)
    return [np.clip(f + step * mask[..., None], 0, 255).astype(np.uint8) for f in c.frames]


def _mouth_box(face: Face | None) -> tuple[int, int, int, int] | None:
    return None if face is None else face.mouth_box()


def blur_mouth(c: Clip, sigma: float) -> list[np.ndarray]:
    """Every frame with its mouth box blurred by ``sigma`` px."""
    import cv2

    out = []
    for frame, face in zip(c.frames, c.faces, strict=True):
        frame = frame.copy()
        box = _mouth_box(face)
        if box is not None and sigma > 0:
            x1, y1, x2, y2 = box
            frame[y1:y2, x1:x2] = cv2.GaussianBlur(frame[y1:y2, x1:x2], (0, 0), sigma)
        out.append(frame)
    return out


def hold_upper_lip(c: Clip, share: float) -> list[np.ndarray]:
    """Every frame with ``share`` of the upper lip's own motion taken away: its inner edge (mesh 13) is
    drawn where it would be if its height under the nose tip (mesh 4) moved ``1 - share`` as far from the
    first frame's as it does; 1 holds it still, moving with the face.

    A warp of the face's own pixels down the middle of the mouth, as a generator would draw a stiffer lip:
    rows from the nose tip to the moved edge are stretched or squeezed onto the nose-to-edge span, rows
    from there to just below the lower lip's inner edge (mesh 14) onto the rest, the effect fading out
    towards the mouth's corners. (Until the fourteenth session the band was blended with the first frame's
    pixels: half-way, the lip showed twice, and the mesh read the double edge as more motion on some clips.)
    """
    import cv2

    first = next(f for f in c.faces if f is not None)
    ref_gap = float(first.points[13, 1] - first.points[4, 1])
    h, w = c.frames[0].shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    out = []
    for frame, face in zip(c.frames, c.faces, strict=True):
        if face is None or share == 0:
            out.append(frame)
            continue
        nose, edge, low = (float(face.points[i, 1]) for i in (4, 13, 14))
        cx, width = face.mouth_center[0], face.mouth_width
        across = np.clip(1.5 * (1 - np.abs(xs - cx) / (0.8 * width)), 0, 1)  # 1 mid-mouth, 0 at the corners
        shown = edge - share * ((edge - nose) - ref_gap) * across  # where the edge is drawn, per column
        bottom = max(low, edge + 1) + 2
        upper = (ys >= nose) & (ys < shown)
        lower = (ys >= shown) & (ys < bottom)
        src = np.where(upper, nose + (ys - nose) * (edge - nose) / np.maximum(1e-3, shown - nose), ys)
        src = np.where(lower, edge + (ys - shown) * (bottom - edge) / np.maximum(1e-3, bottom - shown), src)
        out.append(cv2.remap(frame, xs, src.astype(np.float32), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE))
    return out


def measure(c: Clip, copy: list[np.ndarray], predicted: np.ndarray | None = None) -> ChangeMeasures:
    """The change measures of ``copy`` (encoded as a service would return it, decoded again) against the clip."""
    video = write_mp4(copy, 25, None, crf=23)
    decoded = [f.rgb for f in read_frames(video)]
    collector = ChangeCollector(len(decoded))
    for frame, source, face in zip(decoded, c.frames, c.faces, strict=False):
        collector.add(frame, source, _mouth_box(face))
    first = next(f for f in c.faces if f is not None)  # as a run passes the sent face's mouth
    return collector.result(Comparison(predicted=predicted, mouth=first.mouth))


def upper_share(frames: list[np.ndarray]) -> float | None:
    """The upper lip's share of the lips' motion in ``frames`` (encoded and decoded first)."""
    from navtalk_sweep.analysis.metrics import analyse_video

    return analyse_video(write_mp4(frames, 25, None, crf=23)).values.get("upper_lip_motion")


Defect = Callable[[Clip, float], list[np.ndarray]]
