"""Throughput under faults and crash-resume at scale, against `navtalk-sweep mock` on loopback.

(a) 228 cases of 1-3 s tasks, concurrency 8, with and without a fault plan of every kind at
    5 % each (429 with and without Retry-After and as a date, 5xx, drops, torn JSON, HTML
    pages, slow answers, unknown statuses, three never-finishing tasks, failed and refused
    tasks): the ratio of wall times and the calls per case. Goal: under 2x, every case classified.
(b) 20 SIGKILLs at random moments of a 200-case run with the fault plan on, each followed
    by --resume: duplicates found in the mock's submit counts (goal 0).

Run from the repository root: python benchmarks/bench_soak.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.soak.soak import CLASSIFIED, kill_trials, soak


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        calm = soak(t, 57, faults=None)
        faulty = soak(t, 57, faults=0.05)
        classified = set(faulty.outcomes) <= CLASSIFIED
        print(f"soak: {faulty.cases} cases; fault-free {calm.wall:.1f} s, every fault kind at 5 % {faulty.wall:.1f} s "
              f"= {faulty.wall / calm.wall:.2f}x (goal under 2x); every case classified: {classified} "
              f"{dict(faulty.outcomes)}; most submits of one request: {max(faulty.submits.values())}")
        print(f"      calls per case: query_status {calm.per_case('query_status'):.2f} -> "
              f"{faulty.per_case('query_status'):.2f}, generate {calm.per_case('generate'):.2f} -> "
              f"{faulty.per_case('generate'):.2f}")
        trials = kill_trials(t, 50, kills=20)
        print(f"kills: {trials.kills} SIGKILLs of a {trials.cases}-case faulty run, each resumed: "
              f"{len(trials.duplicates)} request(s) submitted twice (goal 0), {trials.cases} records, "
              f"{dict(trials.outcomes)}, {trials.wall:.0f} s")


if __name__ == "__main__":
    main()
