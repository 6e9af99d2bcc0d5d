"""The tuning tour offline: ``scenarios/bbox_margin_tuning.yaml`` (28 renders and measures) on the bundled mock,
rendering and measuring in the calling process (the default) against the process pool
(``NAVTALK_SWEEP_WORKERS=auto``: one worker per core), in one process, wall and CPU time (this process and its children).

    python benchmarks/bench_tuning.py
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from navtalk_sweep.session import Target, load_plan, run_sweep


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def once(workers: str) -> tuple[float, float, str]:
    os.environ["NAVTALK_SWEEP_WORKERS"] = workers
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), _cpu()
        result = run_sweep(load_plan([ROOT / "scenarios" / "bbox_margin_tuning.yaml"]), Path(tmp) / "run",
                           target=Target.mock())
        return time.perf_counter() - start, _cpu() - cpu, result.summary_line()


def main() -> None:
    serial = once("0")
    pooled = once("auto")  # one worker per core
    print(f"in-process: {serial[0]:.1f} s wall, {serial[1]:.1f} s CPU ({serial[2]})")
    print(f"pool:       {pooled[0]:.1f} s wall ({pooled[0] / serial[0]:.2f} of in-process), {serial[2]}")


if __name__ == "__main__":
    main()
