"""``navtalk-sweep preview``: contact sheets on real faces, laid out along two face controls."""

from __future__ import annotations

import numpy as np
import pytest

from navtalk_sweep.analysis.preview import CELL
from navtalk_sweep.cli import main
from tests.analysis.conftest import MEDIA
from tests.conftest import SCENARIOS


def _read(path):
    import cv2

    return cv2.imread(str(path))[:, :, ::-1]


def _crop_top(cell):
    """The highest row of the yellow crop box drawn in a cell (below its label strip)."""
    yellow = (cell[:, :, 0] > 200) & (cell[:, :, 1] > 170) & (cell[:, :, 2] < 120)
    rows = np.nonzero(yellow[20:].sum(axis=1) > CELL // 8)[0]
    return int(rows.min()) + 20


def test_a_scenario_sheet_has_a_cell_per_value_of_its_two_varied_controls(tmp_path, capsys):
    assert main(["preview", str(SCENARIOS / "bbox_margin_tuning.yaml"), "-o", str(tmp_path)]) == 0
    (sheet,) = tmp_path.glob("preview-bbox-margin-*.png")
    assert "bbox_shift 7 rows x extra_margin 4 columns" in capsys.readouterr().out
    assert _read(sheet).shape == (7 * CELL + 40, 4 * CELL, 3)  # and the legend under the cells


def test_the_crop_drawn_for_bbox_shift_9_sits_lower_than_for_minus_9(tmp_path):
    out = tmp_path / "sheets"
    assert main(["preview", "--image", str(MEDIA / "macron.png"), "--rows", "bbox_shift=-9,9",
                 "--columns", "extra_margin=0", "-o", str(out)]) == 0
    (sheet,) = out.glob("*.png")
    image = _read(sheet)
    top_up, top_down = _crop_top(image[:CELL]), _crop_top(image[CELL:])
    from navtalk_sweep.analysis._io import read_image
    from navtalk_sweep.analysis.face import detect_face
    from navtalk_sweep.analysis.preview import framing

    x1, y1, x2, y2 = framing(detect_face(read_image(MEDIA / "macron.png")))
    # cells share one framing, so the box itself is seen to move: 2 px per unit, scaled into the cell
    assert top_down - top_up == pytest.approx(36 * CELL / max(x2 - x1, y2 - y1), abs=2)


def test_an_image_without_a_face_is_a_one_line_skip_and_exit_1(tmp_path, capsys):
    import cv2

    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((200, 200, 3), 128, np.uint8))
    assert main(["preview", "--image", str(blank), "-o", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    assert out == [f"skipped: {blank}: no face found (a clear frontal face is needed to draw the controls)"]


@pytest.mark.parametrize(("arg", "message"), [
    ("--rows=nose=1", "'nose' is not a face control"),
    ("--rows=bbox_shift=a", "bbox_shift takes integers, got 'a'"),
    ("--columns=parsing_mode=lips", "parsing_mode must be one of 'jaw', 'raw'"),
])
def test_bad_axes_are_one_line_usage_errors(tmp_path, capsys, arg, message):
    assert main(["preview", "--image", str(MEDIA / "macron.png"), arg, "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_each_cell_says_where_the_mask_line_sits_and_warns_before_anything_is_paid(tmp_path, capsys):
    out = tmp_path / "sheets"
    assert main(["preview", "--image", str(MEDIA / "macron.png"), "--rows", "bbox_shift=-9,0,9",
                 "--columns", "extra_margin=0,-5", "-o", str(out)]) == 0
    said = capsys.readouterr().out
    assert "MuseTalk's suggested bbox_shift for this face: " in said
    cells = [line for line in said.splitlines() if line.startswith("  bbox_shift ")]
    assert len(cells) == 6 and all("from lip, lips" in line and "px/unit" in line for line in cells)
    margin = [line for line in cells if "extra_margin -5:" in line]
    assert len(margin) == 3 and all("WARNING extra_margin -5 outside the suggested 0..50" in line for line in margin)
    # the mask line comes down toward the lip as bbox_shift grows
    lines = [int(line.split("line ")[1].split(" px")[0]) for line in cells if "extra_margin 0:" in line]
    assert lines[0] < lines[1] < lines[2], lines


def test_a_large_photo_warns_that_the_whole_range_barely_moves_in_the_cell_and_a_small_one_does_not():
    from navtalk_sweep.analysis._io import read_image
    from navtalk_sweep.analysis.face import Controls, detect_face
    from navtalk_sweep.analysis.preview import read

    def unit_warning(name: str) -> bool:
        face = detect_face(read_image(MEDIA / name))
        assert face is not None
        return any("px in the cell: cells look alike" in w for w in read(face, Controls()).warnings)

    assert unit_warning("hallo_7_1600.jpg") and not unit_warning("hallo_7_512.jpg")


def test_raw_mode_draws_no_jaw_band_and_other_axes_get_their_own_file(tmp_path):
    out = tmp_path / "sheets"
    assert main(["preview", "--image", str(MEDIA / "macron.png"), "--rows", "parsing_mode=jaw,raw",
                 "--columns", "bbox_shift=0", "-o", str(out)]) == 0
    assert main(["preview", "--image", str(MEDIA / "macron.png"), "--rows", "bbox_shift=0",
                 "--columns", "extra_margin=0", "-o", str(out)]) == 0
    sheets = sorted(out.glob("*.png"))
    assert len(sheets) == 2, sheets  # the second did not overwrite the first
    image = _read(next(p for p in sheets if "parsing_mode" in p.name))

    def blue(cell):
        return int(((cell[:, :, 2] > 220) & (cell[:, :, 0] < 90) & (cell[:, :, 1] > 110) & (cell[:, :, 1] < 170)).sum())

    assert blue(image[:CELL]) > 20 and blue(image[CELL:2 * CELL]) == 0
