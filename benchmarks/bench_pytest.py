"""Scenario files through pytest vs through `navtalk-sweep run`: pytest's overhead as a ratio.

1,000 cases on the in-process mock (virtual clock, videos downloaded and probed both ways), each way in a fresh
process, best of three wall times. Goal: pytest under 2x.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCENARIO = """
name: thousand
inputs:
  faces: {girl: {character_name: girl2}}
  speech: {hi: {text: "Welcome to NavTalk."}}
matrix:
  voice: [alloy, echo, fable, onyx, nova]
  bbox_shift: {from: -9, to: 10}
  extra_margin: {from: 0, to: 45, step: 5}
"""  # 5 * 20 * 10 = 1,000 cases


def timed(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False,
                              env={**os.environ, **(env or {})})
        best = min(best, time.perf_counter() - t0)
        if proc.returncode != 0:
            raise SystemExit(f"{argv[2]} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return best


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        (cwd / "thousand.yaml").write_text(SCENARIO, encoding="utf-8")
        common = ["--concurrency", "64", "--quiet", "--max-cases", "0"]
        cli = timed([sys.executable, "-m", "navtalk_sweep.cli", "run", "thousand.yaml", "--out", "runs", *common], cwd)
        pytest = [sys.executable, "-m", "pytest", "thousand.yaml", "-q", "-p", "no:cacheprovider",
                  "--navtalk-concurrency", "64", "-W", "ignore"]
        pyt = timed([*pytest, "--navtalk-run-dir", "pyrun"], cwd)
        # the same with only this plugin: what pytest itself costs, without the other plugins of the environment
        alone = timed([*pytest, "-p", "navtalk_sweep.plugin", "--navtalk-run-dir", "pyrun2"], cwd,
                      env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    print(f"1,000 cases: navtalk-sweep run {cli:.2f} s; pytest {pyt:.2f} s ({pyt / cli:.2f}x) with every plugin "
          f"installed here, {alone:.2f} s ({alone / cli:.2f}x) with navtalk-sweep's alone (goal under 2x)")


if __name__ == "__main__":
    main()
