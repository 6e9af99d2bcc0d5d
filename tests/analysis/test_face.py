"""Face geometry on real photos: what each control selects, by MuseTalk's formulas."""

from __future__ import annotations

import numpy as np
import pytest

from navtalk_sweep.analysis._io import read_image
from navtalk_sweep.analysis.face import Controls, detect_face, regions
from tests.analysis.conftest import MEDIA, PHOTOS


@pytest.fixture(scope="module", params=PHOTOS)
def face(request):
    image = read_image(MEDIA / request.param)
    found = detect_face(image)
    assert found is not None, request.param
    return found


def test_a_positive_bbox_shift_moves_the_crop_and_the_mask_line_down(face):
    up, down = regions(face, Controls(bbox_shift=-9)), regions(face, Controls(bbox_shift=9))
    assert down.face_box[1] - up.face_box[1] == pytest.approx(36, abs=1)  # the top moves 2 px per unit
    assert down.mask_line - up.mask_line == pytest.approx(18, abs=1)  # the mid-line 1 px per unit
    assert down.face_box[3] == up.face_box[3]  # the chin does not move


def test_extra_margin_reaches_further_below_the_chin(face):
    none, wide = regions(face, Controls(extra_margin=0)), regions(face, Controls(extra_margin=50))
    assert wide.face_box[3] - none.face_box[3] == min(50, face.image_size[1] - none.face_box[3])
    assert none.face_box[3] >= face.chin_y - 1


def test_cheek_bands_widen_with_their_width_and_jaw_blend_grows(face):
    narrow = regions(face, Controls(left_cheek_width=50, right_cheek_width=50))
    wide = regions(face, Controls(left_cheek_width=150, right_cheek_width=150))
    left_only = regions(face, Controls(left_cheek_width=150, right_cheek_width=50))
    assert wide.band[0] < narrow.band[0] and wide.band[1] > narrow.band[1]
    assert left_only.band[0] == wide.band[0] and left_only.band[1] == narrow.band[1]
    assert (wide.blend > 127).sum() > (narrow.blend > 127).sum()


def test_the_blend_region_stays_on_the_face_below_the_mask_line(face):
    for controls in (Controls(), Controls(parsing_mode="raw"), Controls(bbox_shift=9, extra_margin=50)):
        area = regions(face, controls)
        w, h = face.image_size
        alpha = area.alpha(w, h)
        ys, xs = np.nonzero(alpha > 0.5)
        assert len(ys) > 0
        assert ys.min() >= area.mask_line - 2  # nothing above the mask line is regenerated
        x1, _, x2, y2 = area.face_box
        assert x1 - 2 <= xs.min() and xs.max() <= x2 + 2 and ys.max() <= y2 + 2
        mx, my = face.mouth_center
        assert alpha[int(my), int(mx)] > 0.9  # the mouth is always in it


def test_jaw_parsing_keeps_the_cheeks_outside_the_band_and_raw_keeps_them(face):
    w, h = face.image_size
    jaw, raw = regions(face, Controls(parsing_mode="jaw")), regions(face, Controls(parsing_mode="raw"))

    def outside_band(area):
        mask = area.alpha(w, h) > 0.5
        return mask.sum() - mask[:, area.band[0] : area.band[1]].sum()

    assert outside_band(jaw) * 3 < outside_band(raw)  # jaw erodes the cheeks outside its band
    assert (jaw.alpha(w, h) > 0.5).nonzero()[0].max() >= (raw.alpha(w, h) > 0.5).nonzero()[0].max()


def test_no_face_is_none_not_a_crash():
    blank = np.full((256, 256, 3), 128, np.uint8)
    assert detect_face(blank) is None


def test_mediapipe_start_up_chatter_stays_off_stderr_and_stderr_comes_back(tmp_path):
    # MediaPipe's C++ graph writes INFO/W0000 lines to fd 2 as it starts, some from its own threads
    import subprocess
    import sys

    script = f"""
import os, sys, numpy as np
from navtalk_sweep.analysis._io import read_frames, read_image
from navtalk_sweep.analysis.face import FaceTracker, detect_face
assert detect_face(read_image({str(MEDIA / "macron.png")!r})) is not None
with FaceTracker(video=True) as tracker:
    found = [tracker.find(f.rgb) for f in read_frames({str(MEDIA / "may_5s.mp4")!r}, limit=10)]
assert all(found)
blank = FaceTracker(video=True)
assert blank.find(np.full((64, 64, 3), 128, np.uint8)) is None
blank.close()  # a tracker that never found a face gives stderr back when closed
os.write(2, b"still heard\\n")
"""
    proc = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "still heard\n"


def test_landmarks_read_off_their_wire_bytes_are_the_messages_values_or_refused():
    from mediapipe.framework.formats import landmark_pb2

    from navtalk_sweep.analysis.face import _from_wire

    rng = np.random.default_rng(3)
    values = rng.uniform(-0.2, 1.2, (478, 3)).astype(np.float32)
    plain = landmark_pb2.NormalizedLandmarkList()
    for x, y, z in values:
        plain.landmark.add(x=x, y=y, z=z)
    xy = _from_wire(plain.SerializeToString())
    assert xy is not None and np.array_equal(xy, values[:, :2].astype(np.float64))
    other = landmark_pb2.NormalizedLandmarkList()
    other.CopyFrom(plain)
    other.landmark[7].visibility = 0.5  # a field the plain layout has no room for: read the slow way instead
    assert _from_wire(other.SerializeToString()) is None
    assert _from_wire(b"") is None


def test_the_public_mediapipe_path_finds_the_same_points_as_the_direct_one(monkeypatch):
    """Another MediaPipe than the pinned one is read through ``process()``: the same landmarks, to the bit."""
    from navtalk_sweep.analysis import face as face_module
    from navtalk_sweep.analysis._io import read_frames
    from navtalk_sweep.analysis.face import FaceTracker

    frames = [f.rgb for f in read_frames(MEDIA / "may_5s.mp4", limit=6)]

    def points() -> list[np.ndarray]:
        with FaceTracker(video=True) as tracker:
            return [tracker.find(f).points for f in frames]

    assert face_module._fast_path()  # the pinned version: fed directly
    direct = points()
    monkeypatch.setattr(face_module, "_fast_path", lambda: False)
    assert all(np.array_equal(a, b) for a, b in zip(direct, points(), strict=True))
