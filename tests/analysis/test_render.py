"""The mock renders the face it can see: a bbox_shift sweep moves the animated region, offline."""

from __future__ import annotations

import shutil

import pytest

from navtalk_sweep.media import probe_video
from navtalk_sweep.session import Target, load_plan, run_sweep
from tests.analysis.conftest import MEDIA
from tests.conftest import DATA

SCENARIO = """
name: shift
inputs:
  faces:
    portrait: {file: macron.png}
    remote: {image_url: "https://example.com/photo.jpg"}
  speech:
    obama: {audio_file: obama_2s_mono.wav}
matrix:
  face: [portrait, remote]
  bbox_shift: [-9, 0, 9]
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    root = tmp_path_factory.mktemp("render")
    shutil.copy(MEDIA / "macron.png", root / "macron.png")
    shutil.copy(DATA / "obama_2s_mono.wav", root / "obama_2s_mono.wav")
    (root / "shift.yaml").write_text(SCENARIO, encoding="utf-8")
    result = run_sweep(load_plan([root / "shift.yaml"]), root / "run", target=Target.mock())
    assert result.summary_line().endswith("6 passed"), result.summary_line()
    return result


def _by(result, face):
    return {r.params["bbox_shift"]: r for r in result.records if r.params["face"] == face}


def test_the_changed_region_moves_down_with_bbox_shift(sweep):
    from navtalk_sweep.analysis._io import read_image
    from navtalk_sweep.analysis.face import Controls, detect_face, regions

    face = detect_face(read_image(MEDIA / "macron.png"))
    records = _by(sweep, "portrait")
    # where the video changed, measured against the portrait: its top edge is the predicted mask line
    tops = {shift: regions(face, Controls(bbox_shift=shift)).mask_line + rec.metrics["mask_line_error"]
            for shift, rec in records.items()}
    assert tops[-9] < tops[0] < tops[9], tops
    assert 12 <= tops[9] - tops[-9] <= 24, tops  # the mask line moves 1 px per unit: 18 px


def test_a_readable_face_is_rendered_at_its_size_with_the_speech_and_measured(sweep):
    rec = _by(sweep, "portrait")[0]
    facts = probe_video(str(sweep.run_dir / rec.video))
    assert (facts.width, facts.height) == (512, 512) and facts.fps == 25
    assert facts.audio_seconds == pytest.approx(2.0, abs=0.1)
    assert rec.metrics["lip_sync"] > 0.5  # the mouth follows the speech it was given
    assert rec.metrics["no_face_frames"] == 0.0
    import json

    meta = json.loads((sweep.run_dir / "run.json").read_text())
    assert meta["measures"] == {"lip_sync": 2}  # how its measures were computed, for a later comparison
    assert (sweep.run_dir / rec.images["mouths"]).is_file() and (sweep.run_dir / rec.images["poster"]).is_file()


def test_an_unreadable_face_keeps_the_placeholder_and_says_why(sweep):
    rec = _by(sweep, "remote")[0]
    facts = probe_video(str(sweep.run_dir / rec.video))
    assert facts.fps == 12  # the placeholder
    assert "poster" not in rec.images
    assert not rec.metrics  # the placeholder says what it is: nothing to measure
    assert rec.notes == ("the mock's placeholder video (it could not see the face): not measured",)


def test_pictures_shown_again_are_encoded_to_the_same_bytes_when_converted_once():
    import numpy as np

    from navtalk_sweep.analysis._io import read_frames, read_image, write_mp4

    face = read_image(MEDIA / "hallo_6.jpg")[:96, :128]
    pictures = [np.ascontiguousarray(np.roll(face, 3 * k, axis=1)) for k in range(4)]
    shown = [pictures[k] for k in (0, 1, 2, 1, 0, 3, 3, 2, 0, 1, 2, 3) * 3]
    once = write_mp4(shown, 25, None, repeats=True)
    assert once == write_mp4(shown, 25, None)
    frames = read_frames(once)
    assert len(frames) == len(shown) and [round(f.time, 2) for f in frames[:3]] == [0.0, 0.04, 0.08]
