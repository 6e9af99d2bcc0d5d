"""Held-out validation of the video measures (issue 17, items 3 and 4): run on clips nothing was tuned on.

The measures (lip sync, offset, region, seam, sharpness, upper-lip share) were developed on the four
talking clips in ``tests/data/media``; this script runs the same checks on the other talking clips of
``../shared/media`` and prints them per clip, so the note can report the held-out half separately:

    python benchmarks/validate_measures.py [--dev] [--media ../shared/media]

- lip sync: own speech against every wrong speech (own shifted +-1 s, every other clip's speech), the pooled
  ROC AUC, and a wider net (six more speakers' speech files and the other clips', started every 0.5 s);
- offset: a copy with its sound 0.2 s late reads the clip's own offset + 0.2 s within one frame, or
  is reported missing (a flat peak, a peak at the search's edge) with the note the measure gave;
- the perturbations of ``tests/analysis/perturb.py``: pasted region (IoU, seam), blurred mouth
  (sharpness), held upper lip (share).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import itertools

from navtalk_sweep.analysis._io import RATE, read_speech, replace_sound
from navtalk_sweep.analysis.metrics import analyse_video, lip_sync
from tests.analysis.perturb import (
    blur_mouth,
    clip,
    hold_upper_lip,
    lower_face_mask,
    measure,
    paste,
    upper_share,
)

DEV = ["retalking_1.mp4", "retalking_2.mp4", "may_5s.mp4", "pcavs_620900105.mp4"]
#: talking clips with their own speech in ../shared/media that the tests do not use
HELD_OUT = ["video-retalking/4.mp4", "Wav2Lip-GFPGAN/kim_7s_raw.mp4", "SadTalker/RD_Radio2_000.mp4",
            "PC-AVS/00086.mp4", "PC-AVS/00373.mp4", "PC-AVS/00473.mp4", "PC-AVS/00010.mp4", "PC-AVS/00098.mp4"]
FRAME = 0.04
#: speech files of ../shared/media with no video: more wrong speech for the wider net
SPEAKERS = ["GeneFacePlusPlus/MacronSpeech.wav", "SadTalker/RD_Radio36_000.wav", "SadTalker/chinese_news.wav",
            "Sonic/talk_female_english_10s.MP3", "dreamtalk/acknowledgement_english.m4a", "Real3DPortrait/Obama_5s.wav"]


def _monotone(values: list[float], falling: bool = False) -> str:
    ok = all((a > b) if falling else (a < b) for a, b in itertools.pairwise(values))
    return "monotone" if ok else "NOT monotone"


def _wider_net(media: Path, paths: list[Path], measured: dict[Path, Any]) -> None:
    """Every clip's own speech against six more speakers' (speech files with no video) and the other clips',
    each started every 0.5 s: the share of those wrong speeches the own one beats."""
    speech = {n: read_speech(media / n) for n in SPEAKERS}
    speech.update({p.name: read_speech(p) for p in paths})
    beaten = total = 0
    per = []
    for p in paths:
        m = measured[p]
        own = m.values.get("lip_sync")
        if own is None or m.mouth is None:
            continue
        wrong = [np.roll(speech[p.name], s * RATE) for s in (-2, -1, 1, 2)]
        for name, s in speech.items():
            if name != p.name and s is not None:
                wrong += [s[int(start * RATE):] for start in np.arange(0, max(0.01, len(s) / RATE - 4), 0.5)]
        won = sum(own > lip_sync(*m.mouth, s).score for s in wrong)
        per.append(f"{p.stem} {won}/{len(wrong)}")
        beaten, total = beaten + won, total + len(wrong)
    print(f"lip sync, wider net: own speech beats {beaten} of {total} wrong speeches ({beaten / max(1, total):.1%}): "
          + ", ".join(per))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--media", type=Path, default=ROOT.parent / "shared" / "media")
    parser.add_argument("--dev", action="store_true", help="the development clips instead (tests/data/media)")
    parser.add_argument("--no-perturb", action="store_true", help="lip sync and offset only")
    args = parser.parse_args()
    paths = [ROOT / "tests" / "data" / "media" / n for n in DEV] if args.dev else [args.media / n for n in HELD_OUT]
    speech = {p: read_speech(p) for p in paths}
    measured = {p: analyse_video(p) for p in paths}
    wins = 0
    offsets_ok = offsets_missing = 0
    owns: list[float] = []
    wrongs: list[float] = []
    for p in paths:
        m = measured[p]
        own = m.values.get("lip_sync")
        if own is None or m.mouth is None:
            print(f"{p.name}: lip sync missing ({'; '.join(m.notes)})")
            continue
        wrong = [("+1 s", np.roll(speech[p], RATE)), ("-1 s", np.roll(speech[p], -RATE))]
        wrong += [(q.name, speech[q]) for q in paths if q != p]
        scores = [(what, lip_sync(*m.mouth, s).score) for what, s in wrong]
        owns.append(own)
        wrongs.extend(score for _, score in scores)
        best_wrong = max(scores, key=lambda x: x[1])
        beat = all(own > s for _, s in scores)
        wins += beat
        late = analyse_video(replace_sound(p, np.concatenate([np.zeros(int(0.2 * RATE), np.float32), speech[p]])))
        base, moved = m.values.get("av_offset"), late.values.get("av_offset")
        if base is None or moved is None:
            offsets_missing += 1
            reading = f"offset missing ({'; '.join(late.notes + m.notes) or 'no reading'})"
        else:
            error = moved - base - 0.2
            offsets_ok += abs(error) <= FRAME + 1e-6
            reading = f"own offset {base:+.2f} s, 0.2 s late copy reads {moved - base:+.2f} s (error {error:+.2f})"
        print(f"{p.parent.name}/{p.name}: lip sync own {own:.3f} vs best wrong {best_wrong[1]:.3f} "
              f"({best_wrong[0]}): {'beats all' if beat else 'BEATEN'}; {reading}")
    print(f"lip sync: own speech beats every wrong one on {wins} of {len(paths)} clips; 0.2 s delay within a "
          f"frame on {offsets_ok}, missing on {offsets_missing}")
    auc = np.mean([t > f for t, f in itertools.product(owns, wrongs)]) if owns and wrongs else float("nan")
    print(f"lip sync: pooled ROC AUC {auc:.3f} (every clip's own speech against every clip's wrong ones)")
    _wider_net(args.media, paths, measured)
    if args.no_perturb:
        return
    for p in paths:
        c = clip(p)
        if not any(f is not None for f in c.faces):
            print(f"{p.name}: no face in the first frames, perturbations skipped")
            continue
        mask = lower_face_mask(c)
        hard = [measure(c, paste(c, s, feather=False), mask).values for s in (2, 5, 10, 20)]
        soft = [measure(c, paste(c, s, feather=True), mask).values for s in (2, 5, 10, 20)]
        sharp = [measure(c, blur_mouth(c, s)).values.get("mouth_sharpness", float("nan")) for s in (0, 0.5, 1, 2, 4)]
        share = [upper_share(hold_upper_lip(c, s)) for s in (0, 0.5, 1)]
        print(f"{p.parent.name}/{p.name}: paste IoU hard {[v.get('region_iou') for v in hard]} soft "
              f"{[v.get('region_iou') for v in soft]}; seam hard {[v.get('seam') for v in hard]} "
              f"({_monotone([v.get('seam', 0) for v in hard])}) soft {[v.get('seam') for v in soft]}; "
              f"sharpness by blur {sharp} ({_monotone(sharp, falling=True)}); upper-lip share held 0/0.5/1 {share} "
              f"({_monotone([v if v is not None else float('nan') for v in share], falling=True)})")


if __name__ == "__main__":
    main()
