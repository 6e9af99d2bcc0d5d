"""A large URL-input run on the bundled mock, end to end (issue 20, "Scale"): CPU per case, peak memory, disk.

``navtalk-sweep run`` in a child process on a grid of 53,200 cases (two URL faces x two speeches x
bbox_shift -9..9 x extra_margin 0..49 x parsing_mode x 7 cheek widths; ``--cases 5320`` for a tenth),
virtual clock, 256 in flight: its wall and CPU time, its peak resident memory, and the run
directory's size with its videos (stored by content: the mock's placeholders are two distinct
files). Baseline, in this process: the runner alone on the same number of cases against the
in-process simulator (no downloads, no journal, no report), as ``bench_runner`` measures it.

Goals: <= 1.5 ms of CPU per case end to end, < 400 MB peak, identical videos stored once.

    python benchmarks/bench_scale.py [--cases 5320]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SCENARIO = """name: scale
inputs:
  faces:
    a: {{image_url: "https://example.com/a.jpg"}}
    b: {{video_url: "https://example.com/b.mp4"}}
  speech:
    u: {{audio_url: "https://example.com/u.wav"}}
    t: {{text: "Hello there, this is a test.", voice: nova}}
matrix:
  face: [a, b]
  speech: [u, t]
  bbox_shift: {{from: -9, to: 9}}
  extra_margin: {{from: 0, to: {margins}}}
  parsing_mode: [jaw, raw]
  left_cheek_width: [60, 70, 80, 90, 100, 110, 120]
"""
PER_MARGIN = 2 * 2 * 19 * 2 * 7  # cases per extra_margin value


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def end_to_end(cases: int, root: Path) -> dict[str, float]:
    scenario = root / "scale.yaml"
    scenario.write_text(SCENARIO.format(margins=cases // PER_MARGIN - 1), encoding="utf-8")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "navtalk_sweep.cli", "run", str(scenario), "--run-dir",
                           str(root / "run"), "--quiet", "--concurrency", "256", "--submit-rate", "100000",
                           "--max-cases", "0"], capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    videos = root / "run" / "videos"
    return {"wall": wall, "cpu": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "peak_mb": after.ru_maxrss / 1024, "disk_mb": _du(root / "run") / 2 ** 20,
            "videos": len(list(videos.glob("*.mp4"))), "videos_mb": _du(videos) / 2 ** 20}


def runner_alone(n: int) -> float:
    from bench_runner import make_cases, ours

    cases = make_cases(n - n % 8)
    start = resource.getrusage(resource.RUSAGE_SELF)
    ours(cases, concurrency=256, submit_rate=100_000)
    end = resource.getrusage(resource.RUSAGE_SELF)
    return end.ru_utime + end.ru_stime - start.ru_utime - start.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=53_200, help="a multiple of 532 (default 53,200)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="end to end, then the runner alone, this many times (the host's speed moves)")
    args = parser.parse_args()
    for n in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            got = end_to_end(args.cases, Path(tmp))
        alone = runner_alone(args.cases)
        per_case = got["cpu"] / args.cases * 1000
        print(f"round {n + 1}: end to end, {args.cases} cases: {got['wall']:.1f} s wall, {got['cpu']:.1f} s CPU = "
              f"{per_case:.2f} ms a case (goal 1.5), peak {got['peak_mb']:.0f} MB (goal 400), run directory "
              f"{got['disk_mb']:.0f} MB, {got['videos']} video file(s) of {got['videos_mb']:.1f} MB")
        print(f"round {n + 1}: runner alone (in-process simulator, same cases): {alone:.1f} s CPU = "
              f"{alone / args.cases * 1000:.2f} ms a case; end to end is {got['cpu'] / alone:.1f}x that", flush=True)


if __name__ == "__main__":
    main()
