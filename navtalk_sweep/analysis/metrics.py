"""Numbers computed from a returned video: is it whole, does it move, does the mouth follow the speech.

``docs/metrics.md`` says what each number means, how it was validated and when it misleads.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, TypeVar

import numpy as np

from navtalk_sweep.analysis._io import Frame, Source, container_facts, iter_frames, read_speech
from navtalk_sweep.analysis.change import ChangeCollector, Comparison, Spread
from navtalk_sweep.analysis.face import Controls, Face, FaceTracker, detect_face, regions
from navtalk_sweep.analysis.speech import BAND, F2_BAND, envelope
from navtalk_sweep.media import is_placeholder

__all__ = ["LipSync", "Reference", "VideoMetrics", "analyse_video", "lip_sync"]

#: a frame is unchanged when fewer than this share of a 128x128 grey copy's pixels moved by more than
#: ``STILL_LEVEL`` (0..255) since the frame before; compression noise stays under it, a talking mouth does not
STILL_SHARE, STILL_LEVEL = 0.0005, 4.0
#: a frame darker than this (mean luma 0..255) is black
BLACK_LUMA: Final = 16.0
#: lip-sync: correlation windows (s), their hop (s), and the largest audio-visual offset searched (s)
SYNC_WINDOW, SYNC_HOP, MAX_OFFSET = 2.0, 0.5, 0.5
#: the rhythm of syllables gives the correlation secondary peaks a syllable (0.25-0.3 s) from the true
#: one, nearly as high; each peak is discounted by this much per second away from sync, to break such ties
OFFSET_PRIOR: Final = 0.1
#: offsets viewers accept, sound early..late (s): ITU-R BT.1359-1's thresholds of acceptability
#: (+90 ms / -185 ms in its sign convention); the score counts only these, the offset searches wider
ACCEPTED: Final = (-0.090, 0.185)
#: frames a second the mouth and the speech are compared at (variable frame rates are resampled)
GRID_FPS: Final = 25.0
#: after this many frames in a row without a face, only one frame in SPARSE is searched until one is found
MISSES_BEFORE_SPARSE, SPARSE = 12, 6
#: thumbnails in the mouth strip
STRIP: Final = 8


#: an offset is placed only when its peak stands this far (correlation) above the curve's median
MIN_PROMINENCE: Final = 0.05
#: ... and beats this share of the mouth's correlations with the same speech moved by CHANCE_SHIFT s or more
#: (wrapped around, every frame step): how well a mouth follows speech it is not in step with, by chance, on
#: this clip (a permutation test at the conventional 5 % level; judged only with MIN_MOVES moves or more,
#: and at most MAX_MOVES spread over the speech: a long video costs no more)
CHANCE_SHIFT, CHANCE_SHARE, MIN_MOVES, MAX_MOVES = 1.0, 0.95, 20, 250


@dataclass(frozen=True)
class LipSync:
    score: float  # windowed correlation at the best accepted offset, of levels and of their changes, -1..1 (0: still)
    offset: float | None  # seconds the speech lags the mouth (+: sound late); None when it cannot be placed
    why: str = ""  # why the offset is missing


def _by_chance(grid: np.ndarray, opening: np.ndarray, t: np.ndarray, level: np.ndarray) -> float | None:
    """The CHANCE_SHARE quantile of the mouth's correlations with the speech envelope (``level`` at ``t``)
    moved by CHANCE_SHIFT s or more, wrapped around the speech; None when it cannot be moved MIN_MOVES times."""
    span = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    shifts = np.arange(CHANCE_SHIFT, span - CHANCE_SHIFT + 1e-9, 1 / GRID_FPS)
    if len(shifts) > MAX_MOVES:
        shifts = shifts[np.linspace(0, len(shifts) - 1, MAX_MOVES).round().astype(int)]
    moved = []
    for shift in shifts:
        loud = np.interp(t[0] + np.mod(grid + shift - t[0], span), t, level)
        if loud.std() >= 1e-9:
            moved.append(float(np.corrcoef(loud, opening)[0, 1]))
    return float(np.quantile(moved, CHANCE_SHARE)) if len(moved) >= MIN_MOVES else None


def _placeable(curve: dict[int, float], offset: float, chance: Callable[[], float | None]) -> str:
    """Why the data cannot place ``offset`` (the timing curve's peak), or "" when it can; ``chance()`` is
    what the peak must beat (:func:`_by_chance`), asked last: a curve refused already is not moved 250 times."""
    steps = max(abs(k) for k in curve)
    chosen = curve.get(round(offset * GRID_FPS), max(curve.values()))
    edge = max((curve[k] for k in curve if abs(k) == steps), default=-np.inf)
    if abs(offset) * GRID_FPS >= steps - 0.5 or edge >= chosen:
        # the curve still rises toward the edge: the true peak may lie past the search
        return f"the best match is at the edge of the +-{MAX_OFFSET:g} s search: the A/V offset is not placed"
    values = np.array(list(curve.values()))
    if values.max() - float(np.median(values)) < MIN_PROMINENCE:
        return "no clear best match (a flat correlation curve): the A/V offset is not placed"
    level = chance()
    if level is not None and level >= chosen:
        return (f"the mouth follows this speech no better than the same speech moved by {CHANCE_SHIFT:g} s or "
                "more (chance): the A/V offset is not placed")
    return ""


def _mouth_row(face: Face, gray: np.ndarray) -> list[float]:
    """Inner gap, outer height, jaw drop, and the dark share of the mouth box (teeth and tongue are not)."""
    inner, outer, _width, jaw = face.mouth_features()
    cx, cy = face.mouth_center
    w = max(4.0, face.mouth_width)
    h, wd = gray.shape
    box = gray[max(0, int(cy - 0.3 * w)) : max(1, int(cy + 0.3 * w)), max(0, int(cx - 0.5 * w)) : max(1, int(cx + 0.5 * w))]
    around = gray[max(0, int(cy - w)) : min(h, int(cy + w)), max(0, int(cx - w)) : min(wd, int(cx + w))]
    dark = float((box < low_percentile(around, 15)).mean()) if box.size and around.size else 0.0
    return [float(inner), float(outer), float(jaw), dark]


def low_percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` of uint8 values, read off their histogram: the same number (numpy's
    linear method, its rounding included) without sorting a mouth's surroundings every frame."""
    flat = values.ravel()
    at = (flat.size - 1) * (q / 100)
    below = int(np.floor(at))
    t = at - below
    counts = np.cumsum(np.bincount(flat, minlength=256))
    a = int(np.searchsorted(counts, below, side="right"))  # the below-th smallest value, counting from 0
    b = int(np.searchsorted(counts, min(below + 1, flat.size - 1), side="right"))
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _zsum(features: np.ndarray) -> np.ndarray:
    """Each mouth feature standardised, then summed: one 'how open' signal."""
    spread = features.std(0)
    used = spread > 1e-6
    if not used.any():
        return np.zeros(len(features))
    z = (features[:, used] - features[:, used].mean(0)) / spread[used]
    return np.asarray(z.sum(1))


def _windowed_corr(x: np.ndarray, y: np.ndarray, window: int, hop: int) -> float:
    scores = []
    for start in range(0, max(1, len(x) - window + 1), hop):
        a, b = x[start : start + window], y[start : start + window]
        if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
            scores.append(0.0)  # a still mouth or a silent window follows nothing
            continue
        scores.append(float(np.corrcoef(a, b)[0, 1]))
    return float(np.mean(scores)) if scores else 0.0


def _correlations(grid: np.ndarray, opening: np.ndarray, t: np.ndarray, level: np.ndarray) -> dict[int, float]:
    """Whole-clip Pearson correlation of mouth and speech envelope (``level`` at ``t``) at each offset searched."""
    out: dict[int, float] = {}
    if not len(level):
        return out
    steps = round(MAX_OFFSET * GRID_FPS)
    for step in range(-steps, steps + 1):
        loud = np.interp(grid + step / GRID_FPS, t, level, left=np.nan, right=np.nan)
        ok = ~np.isnan(loud)
        if ok.sum() >= 3 and loud[ok].std() >= 1e-9:
            out[step] = float(np.corrcoef(loud[ok], opening[ok])[0, 1])
    return out


def _peak(curve: dict[int, float]) -> float:
    """The offset (s) of the curve's best peak, refined between frames by a parabola through its neighbours."""
    # a peak is higher than its neighbours (the edge of the search is not one, unless nothing is);
    # the rhythm of syllables makes a second peak a syllable away nearly as high: the prior breaks ties
    peaks = [k for k in curve if curve.get(k - 1, np.inf) < curve[k] > curve.get(k + 1, np.inf)] or list(curve)
    best = max(peaks, key=lambda k: (curve[k] - OFFSET_PRIOR * abs(k) / GRID_FPS, -abs(k)))
    if best - 1 in curve and best + 1 in curve:
        before, top, after = curve[best - 1], curve[best], curve[best + 1]
        bend = before - 2 * top + after
        if bend < 0:  # a broad top (0.1-0.2 s wide) is placed far better than its highest sample
            return (best + 0.5 * (before - after) / bend) / GRID_FPS
    return best / GRID_FPS


def lip_sync(times: np.ndarray, mouth: np.ndarray, speech: np.ndarray) -> LipSync:
    """How well mouth opening (rows of features at ``times``) follows the speech envelope, and at what offset."""
    if len(times) < 3 or not len(speech):
        return LipSync(0.0, None, "too few frames or no speech: no A/V offset")
    grid = np.arange(times[0], times[-1], 1 / GRID_FPS)
    features = np.stack([np.interp(grid, times, mouth[:, i]) for i in range(mouth.shape[1])], 1)
    opening = _zsum(features)
    if opening.std() < 1e-9:
        return LipSync(0.0, None, "the mouth does not move: no A/V offset")
    # two envelopes, each for what it does best: the wide band's energy places the offset steadily
    # (whole-clip correlation: a few loud windows cannot pull it to the edge); the second formant's
    # separates true speech from wrong speech. The score is the windowed mean at the offset viewers
    # accept where the F2 correlation peaks: a mouth that follows the speech only 0.3 s late is not
    # in sync, and scoring at every offset searched would let unrelated speech find a chance match
    t, level = envelope(speech, band=F2_BAND)
    wide = envelope(speech, band=BAND)
    timing, scoring = _correlations(grid, opening, *wide), _correlations(grid, opening, t, level)
    if not timing or not scoring:
        return LipSync(0.0, None, "the speech is silent or too short to compare: no A/V offset")
    accepted = [k for k in scoring if ACCEPTED[0] - 1e-9 <= k / GRID_FPS <= ACCEPTED[1] + 1e-9]
    in_sync = max(accepted, key=lambda k: (scoring[k], -abs(k))) if accepted else round(_peak(scoring) * GRID_FPS)
    loud = np.interp(grid + in_sync / GRID_FPS, t, level, left=np.nan, right=np.nan)
    ok = ~np.isnan(loud)
    window, hop = round(SYNC_WINDOW * GRID_FPS), round(SYNC_HOP * GRID_FPS)
    # half how loud goes with how open, half how each changes from frame to frame: when the mouth opens and
    # closes against when the speech rises and falls (a mouth open where speech is loud, but not in step)
    heard, seen = loud[ok], opening[ok]
    score = (_windowed_corr(heard, seen, window, hop) + _windowed_corr(np.diff(heard), np.diff(seen), window, hop)) / 2
    offset = round(_peak(timing), 2) + 0.0  # + 0.0: no "-0.0" in a report
    why = _placeable(timing, offset, lambda: _by_chance(grid, opening, *wide))
    return LipSync(round(score, 3) + 0.0, None if why else offset, why)


@dataclass(frozen=True)
class Reference:
    """The face a request sent (its first frame, RGB) and the controls it asked for."""

    image: np.ndarray
    controls: Controls
    still: bool = True  # a video face's frames cannot be put in step with the result's: compared only if still


class _Against:
    """The change measures of one video against its reference, prepared at the video's size."""

    def __init__(self, reference: Reference, width: int, height: int, comment: str, frames: int) -> None:
        import cv2

        from navtalk_sweep.analysis.render import MARK, mark_box

        src = reference.image
        k = width / src.shape[1]
        self.image = src if src.shape[:2] == (height, width) else cv2.resize(
            src, (width, height), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
        self.face = detect_face(self.image)
        self.values: dict[str, float] = {}
        self.comparison = Comparison(ignore=mark_box(width, height) if comment == MARK else None)
        if self.face is not None:
            area = regions(self.face, reference.controls.scaled(k))
            self.comparison = Comparison(area.alpha(width, height), float(area.mask_line), self.comparison.ignore,
                                         self.face.mouth)
            low, high = self.face.scaled(1 / k).suggested_shift
            self.values = {"shift_range_low": float(low), "shift_range_high": float(high)}
        self.collector = ChangeCollector(frames)


def _upper_share(lips: list[tuple[float, float]]) -> float | None:
    """The upper lip's share of the mouth's motion: spread of its height against the nose tip's, over both lips'."""
    if len(lips) < 10:
        return None
    upper, lower = np.array(lips).T
    a, b = float(upper.std()), float(lower.std())
    return round(a / (a + b), 3) if a + b > 1e-4 else None


@dataclass
class VideoMetrics:
    """What :func:`analyse_video` found; ``values`` are the record's metrics."""

    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    mouth_strip: np.ndarray | None = None  # RGB, a row of mouth thumbnails
    #: frame times and mouth feature rows (for :func:`lip_sync` against other speech)
    mouth: tuple[np.ndarray, np.ndarray] | None = None


#: a mouth thumbnail's size in the strip (width, height)
THUMB: Final = (96, 64)


def _strip(thumbs: list[np.ndarray]) -> np.ndarray | None:
    return np.concatenate(thumbs, axis=1) if thumbs else None


_T = TypeVar("_T")


def _ahead(items: Iterator[_T], depth: int = 8) -> Iterator[_T]:
    """Decode (and whatever else ``items`` does per frame) in a thread while the face mesh works on the
    frame before (both release the GIL)."""
    box: queue.Queue[_T | BaseException | None] = queue.Queue(depth)

    def produce() -> None:
        try:
            for item in items:
                box.put(item)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            box.put(exc)
            return
        box.put(None)

    worker = threading.Thread(target=produce, daemon=True)
    worker.start()
    while (got := box.get()) is not None:
        if isinstance(got, BaseException):
            raise got
        yield got
    worker.join()


def _decoded(source: Source) -> Iterator[tuple[Frame, np.ndarray, bool, bool]]:
    """Each frame, its grey image, whether it is unchanged since the frame before (compared at 128x128: fewer
    than STILL_SHARE of the pixels moved by more than STILL_LEVEL) and whether it is black."""
    import cv2

    previous: np.ndarray | None = None
    for frame in iter_frames(source):
        gray = cv2.cvtColor(frame.rgb, cv2.COLOR_RGB2GRAY)
        small = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32)
        unchanged = previous is not None and float((np.abs(small - previous) > STILL_LEVEL).mean()) < STILL_SHARE
        previous = small
        yield frame, gray, unchanged, float(small.mean()) < BLACK_LUMA


def analyse_video(source: Source, *, speech: np.ndarray | None = None,
                  reference: Reference | None = None) -> VideoMetrics:
    """Measure a video (path or bytes); ``speech`` (16 kHz mono) defaults to its own sound track; given the
    ``reference`` face the request sent, also what the video changed of it (``analysis.change``)."""
    out = VideoMetrics()
    if is_placeholder(source if isinstance(source, bytes) else str(source)):
        out.notes.append("the mock's placeholder video (it could not see the face): not measured")
        return out
    import cv2  # after the placeholder's answer: a run of placeholders never loads it (26 MB)
    times: list[float] = []
    rows: list[list[float]] = []
    row_times: list[float] = []
    opening: list[float] = []
    black = missing = misses = 0
    still_run = longest_still = 0.0
    lips: list[tuple[float, float]] = []
    against: _Against | None = None
    if reference is not None and not reference.still:
        out.notes.append("a video face: its frames cannot be put in step with the result's, so what the "
                         "controls changed is not measured")
        reference = None
    thumbs: Spread[tuple[float, np.ndarray]] = Spread(4 * STRIP)  # of the faces found, however few
    with FaceTracker(video=True) as tracker:
        # the grey copies and the frame-to-frame tests are made in the decoding thread, beside the mesh's
        # work on the frame before
        for frame, gray, unchanged, dark in _ahead(_decoded(source)):
            if reference is not None and against is None:
                frames, comment = container_facts(source)  # the header again: only the change measures need it
                against = _Against(reference, frame.rgb.shape[1], frame.rgb.shape[0], comment, frames)
            if times:
                if unchanged:
                    still_run += frame.time - times[-1]
                    longest_still = max(longest_still, still_run)
                else:
                    still_run = 0.0
            times.append(frame.time)
            if dark:
                black += 1
                missing += 1
                continue
            # a long run of face-less frames (a placeholder, a cutaway) is searched one frame in
            # SPARSE: searching for a face that is not there costs the most
            if misses >= MISSES_BEFORE_SPARSE and len(times) % SPARSE:
                missing += 1
                continue
            face = tracker.find(frame.rgb)
            if face is None:
                missing += 1
                misses += 1
                continue
            misses = 0
            if against is not None:
                against.collector.add(frame.rgb, against.image, face.mouth_box())
            lips.append(face.lip_heights())
            row = _mouth_row(face, gray)
            rows.append(row)
            row_times.append(frame.time)
            opening.append(row[0])
            if thumbs.wants():
                cx, cy = face.mouth_center
                w = face.mouth_width
                crop = frame.rgb[max(0, int(cy - 0.55 * w)) : int(cy + 0.75 * w), max(0, int(cx - w)) : int(cx + w)]
                if crop.size:  # at the strip's size now: a view would keep the whole frame alive (1.1 GB once)
                    thumbs.add((frame.time, cv2.resize(crop, THUMB, interpolation=cv2.INTER_AREA)))
    if not times:
        out.notes.append("no video frames")
        return out
    count = len(times)
    step = float(np.median(np.diff(times))) if count > 1 else 0.0
    out.values["frozen_seconds"] = round(longest_still + (step if longest_still else 0.0), 2)
    out.values["black_frames"] = round(black / count, 3)
    out.values["no_face_frames"] = round(missing / count, 3)
    if not rows:
        out.notes.append("no face found in any frame: mouth and lip-sync measures left out")
        return out
    if missing > count / 2:
        out.notes.append(f"a face was found in only {count - missing} of {count} frames")
    out.mouth = (np.array(row_times), np.array(rows))
    out.values["mouth_open_median"] = round(float(np.median(opening)), 3)
    out.values["mouth_open_p95"] = round(float(np.percentile(opening, 95)), 3)
    share = _upper_share(lips)
    if share is not None:
        out.values["upper_lip_motion"] = share
    if against is not None:
        out.values.update(against.values)
        if against.face is None:
            out.notes.append("no face found in the face that was sent: what the controls changed is not measured")
        else:
            found = against.collector.result(against.comparison)
            out.values.update(found.values)
            out.notes.extend(found.notes)
    if speech is None:
        speech = read_speech(source)
    if speech is None or not len(speech):
        out.notes.append("no sound track: lip sync not measured")
    else:
        duration = times[-1] + step - times[0]
        if longest_still >= 0.9 * duration:
            # a frozen picture follows no speech, whatever the tracker's jitter
            sync = LipSync(0.0, None, "a frozen picture has no A/V offset")
            out.notes.append("the picture is frozen: the mouth cannot follow the speech")
        else:
            sync = lip_sync(*out.mouth, speech)
        out.values["lip_sync"] = sync.score
        if sync.offset is not None:
            out.values["av_offset"] = sync.offset
        elif sync.why:
            out.notes.append(sync.why)
    kept = thumbs.items
    picks = np.linspace(0, len(kept) - 1, min(STRIP, len(kept))).round().astype(int) if kept else ()
    out.mouth_strip = _strip([kept[int(i)][1] for i in picks])
    return out
