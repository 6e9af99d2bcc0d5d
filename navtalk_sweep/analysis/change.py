"""What a returned video changed of the face that was sent: where, how visibly, how sharply.

Each measure compares the video's frames with the source face (a still, or a video's frames in
step with the result's) on a blurred copy, so compression noise, which changes from frame to
frame, is averaged away by a median over frames, while a change the service made (a pasted,
recoloured or regenerated region) stays. ``docs/metrics.md`` ("What the controls change") gives
the formulas, the perturbations they were validated on and when not to trust them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Generic, TypeVar

import numpy as np

__all__ = ["ChangeCollector", "ChangeMeasures", "Comparison", "Spread", "median_last"]

_T = TypeVar("_T")

#: frames compared at most (spread over the video): the median needs a few dozen, not all
MAX_FRAMES: Final = 24
#: the blur (sigma, px at 256 px across) the comparison is made on: compression's blocks and ringing go
#: (on a still face re-encoded at CRF 28 the static error outside the region is then under 1.2 levels
#: in 95 % of pixels)
BLUR_AT_256: Final = 2.5
#: a pixel changed when the median difference (levels, 0..255) passes this, or its 90th percentile
#: over frames passes MOVED (motion: the mouth opens in only some frames)
CHANGED, MOVED = 2.0, 10.0
#: the seam is measured across this many px (at 256 px across) on each side of the region's edge
SEAM_REACH: Final = 3.0


@dataclass
class ChangeMeasures:
    values: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """What the measures need besides the frames: the predicted region and the faces' mouth boxes."""

    predicted: np.ndarray | None = None  # float 0..1 over the frame: the blend region the controls predict
    mask_line: float | None = None  # y of the predicted mask line
    ignore: tuple[int, int, int, int] | None = None  # a box left out (the simulator's mark)
    mouth: tuple[float, float, float] | None = None  # the source face's mouth: centre x, y and width


def _grey_blur(rgb: np.ndarray, sigma: float) -> np.ndarray:
    import cv2

    return np.asarray(cv2.GaussianBlur(rgb.astype(np.float32), (0, 0), sigma))


def _component(mask: np.ndarray) -> np.ndarray:
    """The largest connected part of ``mask`` with the parts that touch it once closed (a region, not specks)."""
    import cv2

    closed = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                                                  (7, 7)))
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count <= 1:
        return np.zeros(mask.shape, bool)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return np.asarray(labels == biggest)


#: the rim (px at 256 across) where the region's edge is looked for against the change just inside it
RIM: Final = 3.0


def _at_half(static: np.ndarray, region: np.ndarray, rim: float) -> np.ndarray:
    """``region`` with its rim trimmed to where the change falls to half of what it is just inside.

    The region's edge is where the change passes half its median over the region: right for a blend
    whose change is alike everywhere, too far out where part of it changes much more (skin painted over
    a dark collar: its faint tail, alpha 0.05 x 200 levels, passes half of a median of 8). Here each
    pixel within ``rim`` of the edge is kept when its change passes half the mean change at ``rim`` to
    ``2 rim`` inside, nearby: the alpha-0.5 line of a blend whatever its local strength. Only the rim is
    judged, and holes are filled: a pixel deep inside that changes little (skin only re-drawn, beside
    painted background) stays in, which judging every pixel against its neighbourhood did not."""
    import cv2

    depth = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    ring = ((depth >= rim) & (depth < 2 * rim)).astype(np.float32)
    near = cv2.GaussianBlur(ring, (0, 0), 2 * rim)
    inner = np.where(near > 1e-3, cv2.GaussianBlur(static * ring, (0, 0), 2 * rim) / np.maximum(near, 1e-6), 0.0)
    kept = region & ((depth >= rim) | (static > 0.5 * inner))
    trimmed = _component(_filled(kept))
    return trimmed if trimmed.any() else region


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes filled: what the outside cannot reach."""
    import cv2

    outside = np.pad((~mask).astype(np.uint8), 1, constant_values=1)
    cv2.floodFill(outside, None, (0, 0), 2)
    return np.asarray(mask | (outside[1:-1, 1:-1] == 1))


def _top_edge(region: np.ndarray) -> float | None:
    """The first row where the region is at least a quarter as wide as at its widest."""
    widths = region.sum(1)
    if not widths.any():
        return None
    rows = np.nonzero(widths >= 0.25 * widths.max())[0]
    return float(rows[0])


#: the region's edge is looked at in this many sectors around its centre (a seam is often on part of it only)
SECTORS: Final = 12
#: the chin's edge, left out of the seam: this many mouth widths either side of the mouth's centre, below it
CHIN: Final = 0.75


def _seam(diff: np.ndarray, region: np.ndarray, reach: float,
          mouth: tuple[float, float, float] | None = None) -> float:
    """The colour step of the change across the region's edge, beyond the same step beside it (levels).

    ``diff`` is the signed median change per pixel and channel. The change is averaged on rings at
    signed distance d from the edge (negative inside); the step at d is the colour distance between
    the rings at d - reach and d + reach. A feathered blend steps a little everywhere, a seam steps
    at the edge: the step at the edge less the larger of the steps 2.5 reaches inside and outside.
    The edge is looked at in 12 sectors around the region's centre and the largest such step is the
    seam, leaving out the sectors of the top edge: a seam shows where the blend leaves the skin (the
    cheeks, the jaw, the background below them), while the top edge is the mask line, where the
    mouth's own motion is (averaged over the whole edge, a cheek's seam was diluted by the rest and
    by that motion: cheek widths past the face read lower than the default). Given the ``mouth`` (centre
    x, y and width), the edge below it within CHIN mouth widths either side is left out too: the chin,
    which the jaw's drop moves over the neck (it read 10-22 levels on four of seven portraits whatever
    the controls, and hid the cheeks' seam). 0 when no edge is seen."""
    import cv2

    if region.sum() < 50 or (~region).sum() < 50:
        return 0.0
    inside = cv2.distanceTransform(region.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~region).astype(np.uint8), cv2.DIST_L2, 5)
    signed = np.where(region, -inside + 0.5, outside - 0.5)
    near = np.abs(signed) < 5 * reach
    if mouth is not None:
        mx, my, width = mouth
        rows, cols = np.indices(region.shape)
        near &= ~((rows > my) & (np.abs(cols - mx) < CHIN * width))
    ys, xs = np.nonzero(near)
    cy, cx = (float(v.mean()) for v in np.nonzero(region))
    # angle with y pointing up: the top edge is around 90 degrees
    angle = np.degrees(np.arctan2(cy - ys, xs - cx)) % 360
    sector = (angle // (360 / SECTORS)).astype(np.int32)
    top = np.abs(((np.arange(SECTORS) + 0.5) * 360 / SECTORS) - 90) < 45
    values, where = diff[near], signed[near]
    found = [step for k in range(SECTORS) if not top[k]
             and (step := _edge_step(values[sector == k], where[sector == k], reach)) is not None]
    return max(found, default=0.0)


def _edge_step(values: np.ndarray, where: np.ndarray, reach: float) -> float | None:
    """The step of ``values`` (at signed distances ``where`` from an edge) across the edge, less the larger
    step beside it; None when the rings hold too few pixels."""

    def ring(at: float) -> np.ndarray | None:
        picked = np.abs(where - at) < 0.75
        return values[picked].mean(0) if picked.sum() >= 5 else None

    def step(at: float) -> float | None:
        a, b = ring(at - reach), ring(at + reach)
        return None if a is None or b is None else float(np.linalg.norm(a - b))

    edge = step(0.0)
    if edge is None:
        return None
    beside = [v for v in (step(-2.5 * reach), step(2.5 * reach)) if v is not None]
    return max(0.0, edge - max(beside, default=0.0))


def _detail(grey: np.ndarray) -> float:
    """Fine detail: the mean absolute Laplacian (edges of lips and teeth, skin texture)."""
    import cv2

    return float(np.abs(cv2.Laplacian(grey.astype(np.float32), cv2.CV_32F, ksize=3)).mean())


#: the comparison is made at most this size across (the measures' px are scaled back to the frame's)
WORK_SIDE: Final = 256


class Spread(Generic[_T]):
    """At least ``most`` (fewer than twice as many; all, when fewer come) of the items offered one by one, spread
    evenly over however many come: every k-th is kept, k doubling (and every other kept item dropped) when
    full. Given the ``expected`` count, k starts where it would end (fewer are kept if fewer come)."""

    def __init__(self, most: int, expected: int = 0) -> None:
        self.items: list[_T] = []
        self._most = most
        self._step = max(1, expected // most)
        self._seen = 0

    def wants(self) -> bool:
        """Whether the item now offered is kept (asked once per item, before the work of making it)."""
        index, self._seen = self._seen, self._seen + 1
        return index % self._step == 0

    def add(self, item: _T) -> None:
        """Keep the item :meth:`wants` said yes to."""
        self.items.append(item)
        if len(self.items) >= 2 * self._most:
            self.items = self.items[::2]
            self._step *= 2


class ChangeCollector:
    """Takes frame pairs (result, source) as a video is read; :meth:`result` measures them.

    Keeps at most ``MAX_FRAMES`` pairs spread evenly over however many are offered (:class:`Spread`),
    each at most ``WORK_SIDE`` px across, so a long video costs no more."""

    def __init__(self, expected: int = 0) -> None:
        self._diffs: Spread[np.ndarray] = Spread(MAX_FRAMES, expected)
        self._detail: list[tuple[float, float]] = []
        self._scale = 1.0
        self._source: tuple[int, np.ndarray] | None = None  # a still source is prepared once

    def add(self, rgb: np.ndarray, src: np.ndarray, mouth: tuple[int, int, int, int] | None = None) -> None:
        import cv2

        if not self._diffs.wants():
            return
        if src.shape != rgb.shape:
            src = cv2.resize(src, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_AREA)
        if mouth is not None:
            x1, y1, x2, y2 = mouth
            a, b = rgb[max(0, y1):y2, max(0, x1):x2], src[max(0, y1):y2, max(0, x1):x2]
            if a.size and b.size:
                self._detail.append((_detail(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)),
                                     _detail(cv2.cvtColor(b, cv2.COLOR_RGB2GRAY))))
        self._diffs.add(self._prepare(rgb) - self._prepared(src))

    def _prepare(self, rgb: np.ndarray) -> np.ndarray:
        import cv2

        h, w = rgb.shape[:2]
        self._scale = min(1.0, WORK_SIDE / max(h, w))
        if self._scale < 1:
            rgb = cv2.resize(rgb, (round(w * self._scale), round(h * self._scale)), interpolation=cv2.INTER_AREA)
        return _grey_blur(rgb, BLUR_AT_256 * max(rgb.shape[:2]) / 256)

    def _prepared(self, src: np.ndarray) -> np.ndarray:
        if self._source is None or self._source[0] != id(src):
            self._source = (id(src), self._prepare(src))
        return self._source[1]

    def result(self, comparison: Comparison) -> ChangeMeasures:
        return _measure(self._diffs.items, self._detail, self._scale, comparison)


def median_last(values: np.ndarray) -> np.ndarray:
    """``np.median(values, axis=-1)`` to the last bit, for values without NaN: one partition at the middle
    (numpy's median also partitions at the last place, to look for NaN, and at both middles of an even
    count: several times the work on a frames-deep stack); an even count's lower middle is the largest
    value below it."""
    n = values.shape[-1]
    middle = n // 2
    part = np.partition(values, middle, axis=-1)
    upper = part[..., middle]
    if n % 2:
        return upper
    return np.asarray(np.stack([part[..., :middle].max(axis=-1), upper], axis=-1).mean(axis=-1))


def _shrunk(array: np.ndarray | None, scale: float, shape: tuple[int, int]) -> np.ndarray | None:
    import cv2

    if array is None or scale >= 1:
        return array
    return np.asarray(cv2.resize(array.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA))


def _measure(diffs: list[np.ndarray], detail: list[tuple[float, float]], scale: float,
             comparison: Comparison) -> ChangeMeasures:
    import cv2

    out = ChangeMeasures()
    if len(diffs) < 3:
        out.notes.append("fewer than 3 frames to compare with the source face: change measures left out")
        return out
    stack = np.stack(diffs, axis=-1)  # h x w x 3 x frames: the frames last, so medians run along memory
    # a colour-range or gamma difference shifts the whole frame alike: take it out before looking for regions
    stack -= np.median(stack[::4, ::4].transpose(0, 1, 3, 2).reshape(-1, 3), axis=0)[:, None]
    median = median_last(stack)
    static = np.abs(median).max(-1)
    size = np.abs(stack).max(2)  # h x w x frames
    n = size.shape[-1]
    moving = np.partition(size, int(0.9 * (n - 1)), axis=-1)[..., int(0.9 * (n - 1))]
    h, w = static.shape
    valid = np.ones((h, w), bool)
    if comparison.ignore is not None:
        x1, y1, x2, y2 = (round(v * scale) for v in comparison.ignore)
        valid[y1:y2, x1:x2] = False
    region = _component(((static > CHANGED) | (moving > MOVED)) & valid)
    if region.any():  # the edge where the change falls to half its level inside: a blend's alpha of 0.5
        half = max(CHANGED, 0.5 * float(np.median(static[region])))
        region = _component(((static > half) | (moving > MOVED)) & valid)
    predicted = _shrunk(comparison.predicted, scale, (h, w))
    if not region.any():
        out.notes.append("no region of the face changed against the source: region measures left out")
    else:
        trimmed = _at_half(static, region, RIM * max(h, w) / 256)  # the seam reads the untrimmed edge
        if predicted is not None:
            inside = (predicted >= 0.5) & valid
            union = (trimmed | inside).sum()
            out.values["region_iou"] = round(float((trimmed & inside).sum() / union), 3) if union else 0.0
        top = _top_edge(trimmed)
        if comparison.mask_line is not None and top is not None:
            out.values["mask_line_error"] = round(top / scale - comparison.mask_line, 1) + 0.0
        mouth = None if comparison.mouth is None else (
            comparison.mouth[0] * scale, comparison.mouth[1] * scale, comparison.mouth[2] * scale)
        out.values["seam"] = round(_seam(median, region, SEAM_REACH * max(h, w) / 256, mouth), 2)
    around = cv2.dilate(region.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    if predicted is not None:
        around |= predicted > 0.02
    rest = valid & ~around
    if rest.sum() > 100:
        out.values["outside_drift"] = round(float(size[rest].mean()), 2)
    if detail:
        made, had = np.median(np.array(detail), axis=0)
        if had > 1e-3:
            out.values["mouth_sharpness"] = round(float(made / had), 3)
    return out
