"""The code an issue measured, checked out beside this one, so a speed goal reads as a ratio on any machine.

    with checkout(ISSUE_17) as old:      # a temporary git worktree of that commit
        run_in(old, [...])               # a fresh Python process with ``old`` first on sys.path
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
#: before the MuseTalk-like render and the change measures: what issue 17's speed goals were measured on
ISSUE_17 = "938ea7033bd2c6cbfd06ea1ba9ac158a877de7d1"


@contextmanager
def checkout(commit: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-q", "--detach", str(where), commit], check=True)
        try:
            yield where
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], check=False)


def run_in(root: Path, script: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``script --child ROOT ARGS`` in a fresh process; its last line of output, read as JSON."""
    proc = subprocess.run([sys.executable, str(script), "--child", str(root), *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{script.name} on {root} failed:\n{proc.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found
