"""Video metrics on the real talking clips: the lip-motion score tells true speech from false."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from navtalk_sweep.analysis._io import RATE, read_frames, read_image, read_speech, write_mp4
from navtalk_sweep.analysis.metrics import analyse_video, lip_sync
from tests.analysis.conftest import CLIPS, MEDIA

FRAME = 0.04  # one frame at 25 fps


@pytest.fixture(scope="module")
def measured():
    return {clip: analyse_video(MEDIA / clip) for clip in CLIPS}


@pytest.fixture(scope="module")
def speech():
    return {clip: read_speech(MEDIA / clip) for clip in CLIPS}


def false_speeches(clip, speech):
    own = speech[clip]
    yield "shifted +1 s", np.roll(own, RATE)
    yield "shifted -1 s", np.roll(own, -RATE)
    for other in CLIPS:
        if other != clip:
            yield f"swapped for {other}", speech[other]


def test_own_speech_scores_higher_than_shifted_or_swapped_speech_for_every_clip(measured, speech):
    true_scores, false_scores = [], []
    for clip in CLIPS:
        own = measured[clip].values["lip_sync"]
        true_scores.append(own)
        for what, wrong in false_speeches(clip, speech):
            score = lip_sync(*measured[clip].mouth, wrong).score
            false_scores.append(score)
            assert own > score, (clip, what, own, score)
    # separation over every true/false pair: the area under the ROC curve
    auc = np.mean([t > f for t, f in itertools.product(true_scores, false_scores)])
    assert auc == 1.0


@pytest.mark.parametrize("clip", ["retalking_2.mp4", "may_5s.mp4", "pcavs_620900105.mp4"])  # constant 25 fps
def test_a_copy_with_its_sound_delayed_by_200_ms_reports_the_delay(clip, measured, speech):
    frames = [f.rgb for f in read_frames(MEDIA / clip)]
    delayed = write_mp4(frames, 25, np.concatenate([np.zeros(int(0.2 * RATE), np.float32), speech[clip]]))
    own = measured[clip].values["av_offset"]
    offset = analyse_video(delayed).values["av_offset"]
    assert offset - own == pytest.approx(0.2, abs=FRAME + 1e-6)
    if abs(own) <= FRAME:  # the clip itself is in sync to a frame: the copy reads 0.2 s
        assert offset == pytest.approx(0.2, abs=FRAME + 1e-6)


def test_a_still_face_with_speech_scores_zero_and_is_frozen(speech):
    image = read_image(MEDIA / "macron.png")
    video = write_mp4([image] * 125, 25, speech["may_5s.mp4"])
    metrics = analyse_video(video)
    assert metrics.values["lip_sync"] == 0.0
    assert metrics.values["frozen_seconds"] >= 4.9
    assert any("frozen" in note for note in metrics.notes)


def test_real_clips_are_whole_faced_and_moving(measured):
    for clip, metrics in measured.items():
        assert metrics.values["no_face_frames"] == 0.0, clip
        assert metrics.values["black_frames"] == 0.0, clip
        assert metrics.values["frozen_seconds"] < 0.5, clip
        assert 0 < metrics.values["mouth_open_median"] < metrics.values["mouth_open_p95"] < 0.5, clip
        assert metrics.mouth_strip is not None and metrics.mouth_strip.shape[1] == 8 * 96


def test_a_video_with_no_face_gets_notes_not_a_crash():
    grey = np.full((128, 128, 3), 90, np.uint8)
    metrics = analyse_video(write_mp4([grey] * 20, 25, np.zeros(RATE, np.float32)))
    assert metrics.values["no_face_frames"] == 1.0
    assert "lip_sync" not in metrics.values
    assert metrics.notes
