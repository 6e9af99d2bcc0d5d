"""Face analysis speed and the lip-motion score's separation on the four real talking clips.

(a) one 512x512 preview (face mesh + regions + drawing) against decoding the same PNG;
(b) metrics of a 10 s 512x512 talking video against decoding its frames alone (goal: under 2 s);
(c) the simulated render of a 5 s result from a still and from a video face;
(d) lip-sync scores of own vs shifted (+-1 s) and swapped speech, and the ROC AUC over all pairs, scored on
    the second-formant envelope (the method) and on the wide band (the baseline);
(e) the offset read from copies whose sound was moved by -0.1..+0.3 s, against the delay.
(f) a wider net: every clip against the others' and two more speakers' speech started every 0.5 s and
    its own shifted by +-1 and +-2 s; the share each own score beats, with the score taken at the
    offsets viewers accept (the method), at every offset searched, and on the wide band.

    python benchmarks/bench_analysis.py
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np

from navtalk_sweep.analysis import metrics
from navtalk_sweep.analysis._io import RATE, read_frames, read_image, read_speech, replace_sound, write_mp4
from navtalk_sweep.analysis.face import Controls, detect_face
from navtalk_sweep.analysis.metrics import analyse_video, lip_sync
from navtalk_sweep.analysis.preview import cell
from navtalk_sweep.analysis.render import render_result

MEDIA = Path(__file__).resolve().parent.parent / "tests" / "data" / "media"
CLIPS = ["retalking_1.mp4", "retalking_2.mp4", "may_5s.mp4", "pcavs_620900105.mp4"]
SPEECH = ["obama_5s.wav", "sonic_female_10s.mp3"]


def best_of(n: int, fn) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def ten_second_video() -> bytes:
    """A 10 s 512x512 talking video with its own speech: may_5s.mp4 played forward, then backward."""
    frames = [f.rgb for f in read_frames(MEDIA / "may_5s.mp4")]
    speech = read_speech(MEDIA / "may_5s.mp4")
    return write_mp4(frames + frames[::-1], 25, np.concatenate([speech, speech[::-1]]))


def main() -> None:
    detect_face(read_image(MEDIA / "macron.png"))  # the model's first load is not a preview's cost
    decode = best_of(5, lambda: read_image(MEDIA / "macron.png"))

    def preview() -> None:
        image = read_image(MEDIA / "macron.png")
        cell(image, detect_face(image), Controls(bbox_shift=5), "bbox_shift 5")

    took = best_of(5, preview)
    print(f"(a) 512x512 preview: {took * 1000:.0f} ms (decode alone {decode * 1000:.1f} ms, {took / decode:.0f}x); "
          f"goal < 1 s: {took:.3f} of it")

    ten = ten_second_video()
    speech = read_speech(MEDIA / "may_5s.mp4")  # for the renders below
    decode = best_of(3, lambda: read_frames(ten))
    took = best_of(3, lambda: analyse_video(ten))
    print(f"(b) metrics of 10 s 512x512: {took:.2f} s (decoding alone {decode:.2f} s, {took / decode:.1f}x); "
          f"goal < 2 s: {took / 2:.2f} of it")

    face_still, face_clip = (MEDIA / "hallo_6.jpg").read_bytes(), (MEDIA / "pcavs_620900105.mp4").read_bytes()
    for name, face in (("still 624x624", face_still), ("video 224x224", face_clip)):
        took = best_of(2, lambda face=face: render_result(face, speech))
        print(f"(c) render 5 s from a {name}: {took:.2f} s ({took / 5:.2f} x real time)")

    speeches = {c: read_speech(MEDIA / c) for c in CLIPS}
    mouths = {}
    for clip in CLIPS:
        measured = analyse_video(MEDIA / clip)
        mouths[clip] = measured.mouth
        print(f"(d) {clip}: own {measured.values['lip_sync']:.3f} at {measured.values['av_offset']:+.2f} s")
    scored_band = metrics.F2_BAND
    for label, band in (("F2 band, the method", scored_band), ("wide band, the baseline", metrics.BAND)):
        metrics.F2_BAND = band
        true, false, margins = [], [], []
        for clip in CLIPS:
            own = lip_sync(*mouths[clip], speeches[clip]).score
            wrong = [np.roll(speeches[clip], RATE), np.roll(speeches[clip], -RATE)]
            wrong += [speeches[o] for o in CLIPS if o != clip]
            scores = [lip_sync(*mouths[clip], w).score for w in wrong]
            true.append(own)
            false += scores
            margins.append(own - max(scores))
        auc = np.mean([(t > f) + 0.5 * (t == f) for t, f in itertools.product(true, false)])
        print(f"(d) scored on the {label}: ROC AUC own vs shifted/swapped over {len(true)}x{len(false)} pairs "
              f"{auc:.3f}; own minus the best wrong speech per clip {' '.join(f'{m:+.2f}' for m in margins)}")
    metrics.F2_BAND = scored_band

    errors = []
    for clip in CLIPS:
        own = analyse_video(MEDIA / clip).values["av_offset"]
        for delay in (-0.1, 0.1, 0.2, 0.3):
            moved = (np.concatenate([np.zeros(int(delay * RATE), np.float32), speeches[clip]]) if delay > 0
                     else speeches[clip][int(-delay * RATE) :])
            errors.append(analyse_video(replace_sound(MEDIA / clip, moved)).values["av_offset"] - own - delay)
    print(f"(e) sound moved by -0.1/+0.1/+0.2/+0.3 s (picture untouched), 4 clips: offset error max "
          f"{max(map(abs, errors)):.3f} s, mean {np.mean(np.abs(errors)):.3f} s (one frame: 0.040 s)")

    speeches |= {name: read_speech(MEDIA / name) for name in SPEECH}
    accepted, everywhere = metrics.ACCEPTED, (-metrics.MAX_OFFSET, metrics.MAX_OFFSET)
    for label, window, band in (("the accepted offsets, F2 band (the method)", accepted, scored_band),
                                ("every offset searched, F2 band", everywhere, scored_band),
                                ("the accepted offsets, wide band", accepted, metrics.BAND)):
        metrics.ACCEPTED, metrics.F2_BAND = window, band
        shares = []
        for clip in CLIPS:
            own = lip_sync(*mouths[clip], speeches[clip]).score
            wrong = [np.roll(speeches[clip], k * RATE) for k in (-2, -1, 1, 2)]
            wrong += [speeches[o][int(start * RATE) :] for o in speeches if o != clip
                      for start in np.arange(0, len(speeches[o]) / RATE - 4, 0.5)]
            shares.append(f"{sum(lip_sync(*mouths[clip], w).score < own for w in wrong)}/{len(wrong)}")
        print(f"(f) scored at {label}: own beats {', '.join(shares)} wrong speeches")
    metrics.ACCEPTED, metrics.F2_BAND = accepted, scored_band


if __name__ == "__main__":
    main()
