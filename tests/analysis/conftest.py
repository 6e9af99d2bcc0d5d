from __future__ import annotations

import pytest

from navtalk_sweep import analysis
from tests.conftest import DATA

if not analysis.available():  # found, not imported: importing mediapipe costs every collecting worker 1 s
    pytest.skip("needs the face extra", allow_module_level=True)

MEDIA = DATA / "media"
PHOTOS = ["hallo_6.jpg", "macron.png", "sadtalker_people_0.png"]
#: the four real talking clips with their own speech
CLIPS = ["retalking_1.mp4", "retalking_2.mp4", "may_5s.mp4", "pcavs_620900105.mp4"]
#: speech of other people, with no video (more wrong speech to score against)
SPEECH = ["obama_5s.wav", "sonic_female_10s.mp3"]
