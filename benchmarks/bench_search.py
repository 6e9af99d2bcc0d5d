"""How many paid videos a search needs to find the best face setting, against the exhaustive grid.

First the grid: bbox_shift -9..9 step 3 x extra_margin 0/10/25/50 x parsing_mode jaw/raw (56 settings)
on a real portrait (MuseTalk's own demo face, ``../shared/media/MuseTalk/musk.png``) with real speech,
rendered by the bundled mock's responsive simulator and measured. Then 10 seeds each of TPE and
random search through navtalk-sweep's own study source (``navtalk_sweep.search.StudySource``, the
code a run uses), each trial told the measures the grid's video of that setting got (the simulator
renders the same bytes for the same request, so a trial costs a lookup instead of a render). Counted:
paid videos (distinct settings; a repeated setting is told its value, not paid again) until the best
found is within 2 % of the grid's best.

    python benchmarks/bench_search.py [--grid RUN_DIR]   # reuse a grid run made earlier

Goal (issue 18): TPE's median at most a quarter of the grid's videos, and below random's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "media"
sys.path.insert(0, str(ROOT))

from navtalk_sweep import search
from navtalk_sweep.record import CaseRecord, weighted
from navtalk_sweep.results import load_run
from navtalk_sweep.scenario import load_text
from navtalk_sweep.session import Target, load_plan, run_sweep

FACE = SHARED / "MuseTalk" / "musk.png"
SPEECH = SHARED / "Real3DPortrait" / "Obama_5s.wav"
GRID = """\
name: grid
inputs:
  faces: {{face: {{file: {face}}}}}
  speech: {{obama: {{audio_file: {speech}}}}}
matrix:
  bbox_shift: {{from: -9, to: 9, step: 3}}
  extra_margin: [0, 10, 25, 50]
  parsing_mode: [jaw, raw]
"""

#: objectives a user might declare: the mouth's movement alone (one setting within 2 %), and movement,
#: sharpness and seam together
OBJECTIVES = {
    "mouth_open_p95": "objective: mouth_open_p95",
    "weighted": "weights: {mouth_open_p95: 2, mouth_sharpness: 1, seam: -0.05}",
}
SEEDS = range(10)
TRIALS = 56


def search_plan(objective: str, sampler: str, seed: int, face: Path = FACE):  # type: ignore[no-untyped-def]
    text = GRID.format(face=face, speech=SPEECH) + f"search: {{{objective}, trials: {TRIALS}, sampler: {sampler}, seed: {seed}}}\n"
    return load_text(textwrap.dedent(text), "bench.yaml").plans[0]


async def drive(source: search.StudySource, table: dict[str, CaseRecord]) -> list[float]:
    """Each paid video's objective, in the order the study asked for them (one trial in flight)."""
    paid: list[float] = []
    weights = source.search.measures
    async for job in source:
        rec = table[job.case.case_id]
        value = weighted(rec, weights)
        assert value is not None
        paid.append(value)
        source.tell(job, [rec], True)
    return paid


def videos_to_best(values: list[float], best: float) -> int | None:
    running = float("-inf")
    for i, v in enumerate(values, 1):
        running = max(running, v)
        if running >= best - 0.02 * abs(best):
            return i
    return None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--grid", help="a grid run directory made earlier by this script")
    parser.add_argument("--face", type=lambda t: Path(t).resolve(), default=FACE, help=f"the portrait (default {FACE})")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        grid_dir = Path(args.grid) if args.grid else Path(tmp) / "grid"
        if not (grid_dir / "results.jsonl").is_file():
            scenario = Path(tmp) / "grid.yaml"
            scenario.write_text(GRID.format(face=args.face, speech=SPEECH), encoding="utf-8")
            start = time.perf_counter()
            result = run_sweep(load_plan([scenario]), grid_dir, target=Target.mock(), report=False)
            print(f"grid: {result.summary_line()} in {time.perf_counter() - start:.0f} s ({grid_dir})")
        table = {r.case_id: r for r in load_run(grid_dir).records}
        print(f"grid: {len(table)} settings, each one paid video")
        for name, objective in OBJECTIVES.items():
            weights = search_plan(objective, "random", 0, args.face).search.measures  # type: ignore[union-attr]
            values = [v for r in table.values() if (v := weighted(r, weights)) is not None]
            best = max(values)
            near = sum(v >= best - 0.02 * abs(best) for v in values)
            print(f"\n{name}: grid best {best:.3f}; {near} of {len(values)} settings within 2 %")
            medians = {}
            for sampler in ("tpe", "random"):
                counts = []
                start = time.perf_counter()
                for seed in SEEDS:
                    plan = search_plan(objective, sampler, seed, args.face)
                    storage = search.open_storage(str(Path(tmp) / f"{name}-{sampler}-{seed}.journal"), Path(tmp))
                    source = search.StudySource(plan, {}, storage, run_id="bench")
                    paid = asyncio.run(drive(source, table))
                    counts.append(videos_to_best(paid, best) or len(table))
                medians[sampler] = statistics.median(counts)
                print(f"  {sampler:6s} videos until within 2 %: median {medians[sampler]:.1f} "
                      f"({medians[sampler] / len(table):.2f} of the grid), per seed {counts} "
                      f"[{time.perf_counter() - start:.1f} s for {len(SEEDS)} searches]")
            print(f"  TPE/random {medians['tpe'] / medians['random']:.2f}; goal: TPE <= 0.25 of the grid "
                  f"({'met' if medians['tpe'] <= len(table) / 4 else 'NOT met'}) and below random "
                  f"({'met' if medians['tpe'] < medians['random'] else 'NOT met'})")


if __name__ == "__main__":
    main()
