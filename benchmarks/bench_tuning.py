"""The tuning tour offline: ``scenarios/bbox_margin_tuning.yaml`` (28 renders and measures) on the bundled mock,
wall and CPU time (the process and its children), each run in a fresh process:

- ours, rendering and measuring in the calling process (``NAVTALK_SWEEP_WORKERS=0``) and in the process pool
  (``auto``: one worker per core);
- the baseline: the same scenario on the code issue 17 measured (commit ``938ea70``, before the MuseTalk-like
  render and the change measures; 37.8 s of wall on that day's machine, goal 0.6 of it), checked out in a
  temporary git worktree and run the same way, alternating with ours, so the ratio holds on any machine.

    python benchmarks/bench_tuning.py [--rounds 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "938ea7033bd2c6cbfd06ea1ba9ac158a877de7d1"
SCENARIO = Path("scenarios") / "bbox_margin_tuning.yaml"


def _child(root: Path) -> None:
    """Run the scenario from the code at ``root`` and print its figures as JSON (the last line)."""
    sys.path.insert(0, str(root))
    from navtalk_sweep.session import Target, load_plan, run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = run_sweep(load_plan([root / SCENARIO]), Path(tmp) / "run", target=Target.mock())
        wall = time.perf_counter() - start
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime
    print(json.dumps({"wall": wall, "cpu": cpu, "summary": result.summary_line()}))


def once(root: Path, workers: str) -> dict[str, object]:
    env = {**os.environ, "NAVTALK_SWEEP_WORKERS": workers}
    proc = subprocess.run([sys.executable, __file__, "--child", str(root)], capture_output=True, text=True,
                          env=env, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{root} ({workers} workers) failed:\n{proc.stderr[-2000:]}")
    found: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="ours only (no git worktree)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "baseline"
        if not args.no_baseline:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(old), BASELINE],
                           check=True)
        try:
            for n in range(args.rounds):
                base = None if args.no_baseline else once(old, "0")
                serial, pooled = once(ROOT, "0"), once(ROOT, "auto")
                line = (f"round {n + 1}: ours in-process {serial['wall']:.1f} s wall / {serial['cpu']:.1f} s CPU, "
                        f"pool {pooled['wall']:.1f} s / {pooled['cpu']:.1f} s ({pooled['summary']})")
                if base is not None:
                    ratio = float(pooled["wall"]) / float(base["wall"])  # type: ignore[arg-type]
                    line += (f"; baseline {base['wall']:.1f} s / {base['cpu']:.1f} s: pool = {ratio:.2f} of it "
                             f"(goal 0.6)")
                print(line, flush=True)
        finally:
            if not args.no_baseline:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)


if __name__ == "__main__":
    main()
