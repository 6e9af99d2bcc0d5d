"""Pictures of what the face controls select, before anything is paid for.

A cell draws, on the face: the crop box (yellow), the mask line (red: above it the face is
kept), the blend region (green tint: what gets regenerated and pasted back) and, in jaw
mode, the central band's edges (blue ticks). A contact sheet lays cells out along two axes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

import numpy as np

from navtalk_sweep.analysis.face import Controls, Face, Regions, regions

__all__ = ["CELL", "cell", "contact_sheet", "cross", "draw_regions", "encode_png", "framing", "write_png"]

#: a contact sheet's cell side in pixels
CELL: Final = 256
_CROP, _LINE, _BLEND, _BAND = (250, 210, 60), (230, 40, 40), (40, 200, 90), (60, 140, 250)


def encode_png(rgb: np.ndarray) -> bytes:
    import cv2

    ok, data = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]))
    if not ok:
        raise ValueError("could not encode a PNG")
    return bytes(data.tobytes())


def write_png(path: str | Path, rgb: np.ndarray) -> None:
    Path(path).write_bytes(encode_png(rgb))


def draw_regions(rgb: np.ndarray, area: Regions) -> np.ndarray:
    """``rgb`` with the crop box, mask line, blend region and band drawn on it (a copy)."""
    import cv2

    h, w = rgb.shape[:2]
    alpha = area.alpha(w, h)[:, :, None] * 0.45
    out = (rgb * (1 - alpha) + np.array(_BLEND, np.float32) * alpha).astype(np.uint8)
    thick = max(1, round(max(w, h) / 300))
    x1, y1, x2, y2 = area.face_box
    cv2.rectangle(out, (x1, y1), (x2, y2), _CROP, thick, cv2.LINE_AA)
    cv2.line(out, (x1, area.mask_line), (x2, area.mask_line), _LINE, thick, cv2.LINE_AA)
    for x in area.band:
        cv2.line(out, (x, area.mask_line), (x, min(h - 1, y2)), _BAND, thick, cv2.LINE_AA)
    return out


def _label(cell: np.ndarray, text: str) -> None:
    import cv2

    cv2.rectangle(cell, (0, 0), (cell.shape[1], 18), (0, 0, 0), -1)
    cv2.putText(cell, text, (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)


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

    drawn = draw_regions(rgb, regions(face, controls))
    x1, y1, x2, y2 = view or framing(face)
    crop = drawn[y1:y2, x1:x2]
    scale = CELL / max(crop.shape[:2])
    crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))),
                      interpolation=cv2.INTER_AREA)
    out = np.full((CELL, CELL, 3), 24, np.uint8)
    out[: crop.shape[0], : crop.shape[1]] = crop
    _label(out, text)
    return out


def contact_sheet(rgb: np.ndarray, face: Face, grid: Sequence[Sequence[tuple[str, Controls]]]) -> np.ndarray:
    """Rows of (label, controls) cells, all framed alike so the crop's movement shows."""
    view = framing(face)
    return np.concatenate([np.concatenate([cell(rgb, face, c, text, view) for text, c in line], axis=1)
                           for line in grid], axis=0)


def cross(rows: tuple[str, Sequence[Any]], columns: tuple[str, Sequence[Any]],
          base: Controls | Mapping[str, Any] | None = None) -> list[list[tuple[str, Controls]]]:
    """A grid over two controls, the others from ``base`` (defaults when not given)."""
    start = base if isinstance(base, Controls) else Controls.of(base or {})
    return [[(f"{rows[0]} {rv} | {columns[0]} {cv}", replace(start, **{rows[0]: rv, columns[0]: cv}))
             for cv in columns[1]] for rv in rows[1]]
