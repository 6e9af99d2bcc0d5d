"""The tuning tour offline: ``scenarios/bbox_margin_tuning.yaml`` (28 renders and measures) on the bundled mock,
wall and CPU time (the process and its children), each run in a fresh process:

- ours, rendering and measuring in the calling process (``NAVTALK_SWEEP_WORKERS=0``) and in the process pool
  (``auto``: one worker per core);
- the baseline: the same scenario on the code issue 17 measured (``baseline.ISSUE_17``; 37.8 s of wall on that
  day's machine, goal 0.6 of it) in a temporary git worktree, run alternately with ours, so the ratio holds
  on any machine.

    python benchmarks/bench_tuning.py [--rounds 2] [--no-baseline]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from baseline import ISSUE_17, ROOT, checkout, run_in

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
    parent, workers = own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime
    print(json.dumps({"wall": wall, "cpu": parent + workers, "parent": parent, "workers": workers,
                      "summary": result.summary_line()}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-baseline", action="store_true", help="ours only (no git worktree)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return
    me = Path(__file__)
    with contextlib.nullcontext(None) if args.no_baseline else checkout(ISSUE_17) as old:
        for n in range(args.rounds):
            base = None if old is None else run_in(old, me, env={"NAVTALK_SWEEP_WORKERS": "0"})
            serial = run_in(ROOT, me, env={"NAVTALK_SWEEP_WORKERS": "0"})
            pooled = run_in(ROOT, me, env={"NAVTALK_SWEEP_WORKERS": "auto"})
            line = (f"round {n + 1}: ours in-process {serial['wall']:.1f} s wall / {serial['cpu']:.1f} s CPU, "
                    f"pool {pooled['wall']:.1f} s / {pooled['cpu']:.1f} s (the run's process {pooled['parent']:.1f} s: "
                    f"runner, mock, report; its workers {pooled['workers']:.1f} s: renders and measures) "
                    f"({pooled['summary']})")
            if base is not None:
                line += (f"; baseline {base['wall']:.1f} s / {base['cpu']:.1f} s: pool = "
                         f"{pooled['wall'] / base['wall']:.2f} of it (goal 0.6)")
            print(line, flush=True)


if __name__ == "__main__":
    main()
