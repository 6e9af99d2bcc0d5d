"""Lazy expansion at scale: count a 10^6-case grid, sample 100 cases, build them.

Baseline, in the same run: materialising the same grid as a list (what a naive
expander does). Prints times and the ratio.
"""

from __future__ import annotations

import time

from navtalk_sweep.scenario import load_text

SCENARIO = """
name: million
inputs:
  faces: {girl: {character_name: girl2}, pic: {image_url: "https://example.com/p.jpg"},
          clip: {video_url: "https://example.com/v.mp4"}, pic2: {image_url: "https://example.com/q.jpg"}}
  speech: {hi: {text: "Welcome to NavTalk."}}
matrix:
  face: [girl, pic, clip, pic2]
  speech: [hi]
  voice: [alloy, echo, fable, onyx, nova]
  bbox_shift: {from: -24, to: 25}
  extra_margin: {from: 0, to: 49}
  left_cheek_width: {from: 50, to: 59}
  parsing_mode: [jaw, raw]
  # 4 * 5 * 50 * 50 * 10 * 2 = 1,000,000
exclude:
  - {face: girl, parsing_mode: raw, voice: onyx}
sample: {method: random, n: 100, seed: 1}
"""


def main() -> None:
    t0 = time.perf_counter()
    plan = load_text(SCENARIO, "million.yaml").plans[0]
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    raw, count = plan.grid.raw_size, plan.grid.count()
    t_count = time.perf_counter() - t0
    t0 = time.perf_counter()
    cases = list(plan)
    t_sample = time.perf_counter() - t0
    assert raw == 1_000_000 and count == raw - 50 * 50 * 10 and len(cases) == 100
    t0 = time.perf_counter()
    summary = plan.summary()
    t_summary = time.perf_counter() - t0
    # the naive way, for the ratio: every index tuple in a list, then filtered
    t0 = time.perf_counter()
    materialised = [idx for idx in plan.grid]
    t_list = time.perf_counter() - t0
    assert len(materialised) == count
    print(f"grid of {raw:,} combinations ({count:,} after exclude rules)")
    print(f"  load + validate      {t_load * 1000:8.1f} ms")
    print(f"  count                {t_count * 1000:8.3f} ms")
    print(f"  sample 100 + build   {t_sample * 1000:8.1f} ms")
    print(f"  per-mode summary     {t_summary * 1000:8.1f} ms  ({dict(summary[0])})")
    print(f"  baseline: list every index   {t_list * 1000:8.1f} ms")
    print(f"  ratio: count is {t_list / t_count:,.0f}x faster, sample+build {t_list / t_sample:,.0f}x faster "
          "than listing the grid")


if __name__ == "__main__":
    main()
