"""Pictures of what the face controls select, before anything is paid for.

A cell draws, on the face: the crop box (yellow), the mask line (red: above it the face is
kept), the blend region (green tint: what gets regenerated and pasted back) and, in jaw
mode, the central band's edges (blue ticks). A contact sheet lays cells out along two axes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from navtalk_sweep.analysis.face import Controls, Face, Regions, regions
from navtalk_sweep.contract import FACE_CONTROLS

__all__ = ["CELL", "Reading", "cell", "contact_sheet", "cross", "draw_regions", "encode_png", "framing", "legend",
           "read", "write_png"]

#: a contact sheet's cell side in pixels
CELL: Final = 256
_CROP, _LINE, _BLEND, _BAND = (250, 210, 60), (230, 40, 40), (40, 200, 90), (60, 140, 250)
_WARN = (255, 90, 90)
#: the least movement, in a cell's pixels, over the whole suggested bbox_shift range that the eye tells apart
_SEEN_PX = 5.0


def encode_png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError("could not encode a PNG")
    return bytes(data.tobytes())


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    """Atomically: two measures of one stored video (other faces or controls) may write its strip at once."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "wb") as f:
        f.write(encode_png(rgb))
    os.replace(tmp, path)


@dataclass(frozen=True)
class Reading:
    """What a cell's numbers say: where the controls put the crop and mask line on this face, and what
    to worry about before paying for it."""

    line_to_lip: int  # px: the mask line below (+) or above (-) the upper lip's top
    line_to_lip_share: float  # the same, as a share of the crop's height
    lips_in_crop: float  # share of the lips' box inside the crop
    px_per_unit: float  # how far one bbox_shift unit moves the mask line, in the image's pixels
    cell_px_per_unit: float  # the same in a preview cell: what the eye can see
    suggested: tuple[int, int]  # MuseTalk's suggested bbox_shift range for this face
    warnings: tuple[str, ...]

    def short(self) -> str:
        """What fits a cell's foot."""
        return (f"line {self.line_to_lip:+d}px ({self.line_to_lip_share:+.0%}) | lips {self.lips_in_crop:.0%} | "
                f"{self.cell_px_per_unit:.1f}px/unit")

    def text(self) -> str:
        return (f"line {self.line_to_lip:+d} px ({self.line_to_lip_share:+.0%}) from lip, lips {self.lips_in_crop:.0%}"
                f" in crop, {self.px_per_unit:.1f} px/unit ({self.cell_px_per_unit:.1f} in the cell)")


def read(face: Face, controls: Controls, view: tuple[int, int, int, int] | None = None) -> Reading:
    """The numbers and warnings of one preview cell (``view``: the cell's framing, default :func:`framing`)."""
    area = regions(face, controls)
    w, h = face.image_size
    x1, y1, x2, y2 = area.face_box
    lx1, ly1, lx2, ly2 = face.lips_box()
    inside_w = max(0.0, min(lx2, x2) - max(lx1, x1))
    inside_h = max(0.0, min(ly2, y2) - max(ly1, y1))
    lips_area = max(1.0, (lx2 - lx1) * (ly2 - ly1))
    share = min(1.0, inside_w * inside_h / lips_area)
    line_to_lip = round(area.mask_line - ly1)
    moved = regions(face, replace(controls, bbox_shift=controls.bbox_shift + 1))
    per_unit = float(abs(moved.mask_line - area.mask_line) or abs(moved.face_box[1] - y1))
    low, high = face.suggested_shift
    warnings = []
    if share < 0.99:
        warnings.append(f"lips {1 - share:.0%} outside the crop")
    if x1 < 0 or y1 < 0 or x2 > w or y2 > h:
        warnings.append("crop clipped by the image edge")
    for name, control in FACE_CONTROLS.items():  # the vendor's suggested ranges (margin -5 was drawn silently)
        value = getattr(controls, name)
        if control.outside_suggestion(value):
            assert control.suggested is not None
            warnings.append(f"{name} {value} outside the suggested {control.suggested[0]}..{control.suggested[1]}")
    if not low <= controls.bbox_shift <= high:
        warnings.append(f"bbox_shift {controls.bbox_shift} outside this face's suggested {low}..{high}")
    vx1, vy1, vx2, vy2 = view or framing(face)
    in_cell = per_unit * CELL / max(1, vx2 - vx1, vy2 - vy1)
    span = FACE_CONTROLS["bbox_shift"].suggested or (-9, 9)
    if in_cell * (span[1] - span[0]) < _SEEN_PX:  # a 3,511-px photo: -9 and 9 two pixels apart in the cell
        warnings.append(f"bbox_shift {span[0]}..{span[1]} spans {in_cell * (span[1] - span[0]):.1f} px in the cell: "
                        "cells look alike")
    return Reading(line_to_lip, line_to_lip / max(1, y2 - y1), share, per_unit, in_cell, (low, high),
                   tuple(warnings))


def draw_regions(rgb: np.ndarray, area: Regions, *, band: bool = True) -> np.ndarray:
    """``rgb`` with the crop box, mask line, blend region and (jaw mode) band drawn on it (a copy)."""
    import cv2

    h, w = rgb.shape[:2]
    alpha = area.alpha(w, h)[:, :, None] * 0.45
    out = (rgb * (1 - alpha) + np.array(_BLEND, np.float32) * alpha).astype(np.uint8)
    thick = max(1, round(max(w, h) / 300))
    x1, y1, x2, y2 = area.face_box
    cv2.rectangle(out, (x1, y1), (x2, y2), _CROP, thick, cv2.LINE_AA)
    cv2.line(out, (x1, area.mask_line), (x2, area.mask_line), _LINE, thick, cv2.LINE_AA)
    for x in area.band if band else ():
        cv2.line(out, (x, area.mask_line), (x, min(h - 1, y2)), _BAND, thick, cv2.LINE_AA)
    return out


def _label(cell: np.ndarray, text: str, *, bottom: int = 0, color: tuple[int, int, int] = (255, 255, 255)) -> None:
    """A line of text on a black strip, at the top (``bottom=0``) or ``bottom`` lines up from the foot."""
    import cv2

    y = 0 if bottom == 0 else cell.shape[0] - 16 * bottom
    cv2.rectangle(cell, (0, y), (cell.shape[1], y + 16), (0, 0, 0), -1)
    cv2.putText(cell, text, (3, y + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.33, color, 1, cv2.LINE_AA)


def framing(face: Face) -> tuple[int, int, int, int]:
    """One view for every cell of a face, so cells compare: the canvas at the widest controls, padded."""
    w, h = face.image_size
    boxes = [regions(face, Controls(bbox_shift=s, extra_margin=50)).canvas_box for s in (-9, 9)]
    x1, y1 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x2, y2 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    pad = (x2 - x1) // 10
    return max(0, x1 - pad), max(0, y1 - pad), min(w, x2 + pad), min(h, y2 + pad)


def cell(rgb: np.ndarray, face: Face, controls: Controls, text: str,
         view: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """One CELL x CELL preview of ``controls`` on the face, framed by ``view`` (default :func:`framing`)."""
    import cv2

    drawn = draw_regions(rgb, regions(face, controls), band=controls.parsing_mode != "raw")
    x1, y1, x2, y2 = view or framing(face)
    crop = drawn[y1:y2, x1:x2]
    scale = CELL / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)
    out = np.full((CELL, CELL, 3), 24, np.uint8)
    top, left = (CELL - crop.shape[0]) // 2, (CELL - crop.shape[1]) // 2  # centred: no half-black cell
    out[top: top + crop.shape[0], left: left + crop.shape[1]] = crop
    _label(out, text)
    reading = read(face, controls, (x1, y1, x2, y2))
    lines = [(w, _WARN) for w in reading.warnings[:2]] + [(reading.short(), (255, 255, 255))]
    for i, (line, color) in enumerate(lines):
        _label(out, line, bottom=len(lines) - i, color=color)
    return out


def legend(width: int, face: Face) -> np.ndarray:
    """A strip under a sheet: what each colour is, and the face's suggested bbox_shift range."""
    import cv2

    out = np.full((40, max(width, CELL), 3), 255, np.uint8)
    x = 6
    for colour, name in ((_CROP, "crop"), (_LINE, "mask line (kept above)"), (_BLEND, "regenerated"),
                         (_BAND, "jaw band")):
        cv2.rectangle(out, (x, 8), (x + 14, 20), colour, -1)
        cv2.putText(out, name, (x + 18, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
        x += 28 + 6 * len(name)
    low, high = face.suggested_shift
    cv2.putText(out, f"MuseTalk's suggested bbox_shift for this face: {low}..{high}; red lines are warnings",
                (6, 34), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return out


def contact_sheet(rgb: np.ndarray, face: Face, grid: Sequence[Sequence[tuple[str, Controls]]]) -> np.ndarray:
    """Rows of (label, controls) cells, all framed alike so the crop's movement shows."""
    view = framing(face)
    sheet = np.concatenate([np.concatenate([cell(rgb, face, c, text, view) for text, c in line], axis=1)
                            for line in grid], axis=0)
    return np.concatenate([sheet, legend(sheet.shape[1], face)[:, : sheet.shape[1]]], axis=0)


def cross(rows: tuple[str, Sequence[Any]], columns: tuple[str, Sequence[Any]],
          base: Controls | Mapping[str, Any] | None = None) -> list[list[tuple[str, Controls]]]:
    """A grid over two controls, the others from ``base`` (defaults when not given)."""
    start = base if isinstance(base, Controls) else Controls.of(base or {})
    return [[(f"{rows[0]} {rv} | {columns[0]} {cv}", replace(start, **{rows[0]: rv, columns[0]: cv}))
             for cv in columns[1]] for rv in rows[1]]
