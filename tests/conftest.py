from __future__ import annotations

import functools
import json
import os
from collections import Counter
from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from hypothesis import settings

# CI draws the same examples on every run (a failure there is a failure of the change, not of the
# draw); locally the default profile explores. ``HYPOTHESIS_PROFILE=explore`` draws anew anywhere.
# No deadline in either: a wall-clock limit per example is a timing assertion, and on two loaded cores it
# failed a pairwise property once (it passes 3,000 drawn grids when run alone)
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "explore"))

# measuring in this process: `navtalk-sweep run` starts a pool of one worker per core by default, and a
# suite of short runs (three xdist workers, CLI children) would pay every pool's start-up;
# tests/analysis/test_pool.py runs the default and the pool explicitly
os.environ.setdefault("NAVTALK_SWEEP_WORKERS", "0")

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
DATA = Path(__file__).resolve().parent / "data"
FAKE_LICENSE = "sk-test-0000secret"


#: how much a module of each test directory costs, roughly: unit tests take under 3 s a module, so they go last
#: and fill the workers' ends; analysis and integration modules take 5-35 s of CPU each, and so do the static
#: checks (mypy has no cache in a fresh clone: 15 s; last, they were the suite's last 20 s)
_TIER = {"tests/analysis": 0, "tests/integration": 0, "tests/unit/test_layers.py": 0, "tests/properties": 1,
         "tests/unit": 2}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules in the order xdist hands them to workers (``--no-loadscope-reorder``): one that mostly waits
    (a test marked ``slow``: real clocks, SIGKILL trials, soak), then two of the rest, the costliest first.
    Started last, the waiting modules were the suite's last 30 s with both cores nearly idle; started all
    at once, its first 20 s."""
    modules = [item.nodeid.split("::")[0] for item in items]
    size = Counter(modules)
    waits = {m for m, item in zip(modules, items, strict=True) if item.get_closest_marker("slow")}
    by_cost = sorted(size, key=lambda m: (_TIER.get(m, _TIER.get(m.rpartition("/")[0], 1)), -size[m], m))
    # the soak's modules wait longest (30 s of wall each, a few of CPU): the first to start
    waiting = sorted((m for m in by_cost if m in waits), key=lambda m: not m.startswith("tests/soak/"))
    working = [m for m in by_cost if m not in waits]
    turn = {m: 3 * i for i, m in enumerate(waiting)} | {m: 3 * (i // 2) + 1 + i % 2 for i, m in enumerate(working)}
    rank = {m: i for i, m in enumerate(sorted(size, key=lambda m: (turn[m], m)))}
    items.sort(key=lambda item: rank[item.nodeid.split("::")[0]])


@functools.cache
def _load_what_an_inner_session_imports() -> None:
    """The installed pytest plugins, the sweep engine and the measures behind it, imported once a worker."""
    for plugin in entry_points(group="pytest11"):
        import_module(plugin.module)
    for name in ("navtalk_sweep._pytest_items", "navtalk_sweep.analysis.metrics", "navtalk_sweep.analysis.preview",
                 "av", "schemathesis.pytest.xdist", "schemathesis.reporting.junitxml", "schemathesis.reporting.html"):
        try:
            import_module(name)
        except ImportError:  # without the extra that brings it, an inner session does not import it either
            pass


@pytest.fixture
def pytester(pytester: pytest.Pytester) -> pytest.Pytester:
    """pytest's own, with what an inner session imports loaded first. An in-process run drops every module it
    imported, so each re-imported every installed plugin, the sweep engine and the video decoder (27 mock
    cases: 1.9 -> 0.5 s a run); and numpy cannot be loaded twice in one process."""
    _load_what_an_inner_session_imports()
    return pytester


def extra_tool(name: str) -> str:
    """The path of a command a test extra installs: beside this Python first (the venv's), then on PATH."""
    import shutil
    import sys

    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert found is not None, f"{name}: install the test extras: pip install -e '.[test]'"
    return found


@pytest.fixture
def fake_license() -> str:
    return FAKE_LICENSE


def read_results(run_dir: Path) -> list[dict]:
    """The records of a run's results.jsonl."""
    return [json.loads(line) for line in (run_dir / "results.jsonl").read_text(encoding="utf-8").splitlines()]


def small_tuning(root: Path, *, step: int = 9, margins: str = "[0, 50]", short_speech: bool = True) -> Path:
    """``scenarios/bbox_margin_tuning.yaml`` as shipped, cut to fewer settings (bbox_shift -9..9 every
    ``step``, ``margins``) and 1 s of its speech, written into ``root``: rendering and measuring the
    videos is what such a test pays for (the 28 settings of 5 s took 27-46 s)."""
    import shutil

    (root / "media").mkdir(parents=True, exist_ok=True)
    shutil.copy(SCENARIOS / "media" / "6.jpg", root / "media" / "6.jpg")
    speech = DATA / "obama_1s_mono.wav" if short_speech else SCENARIOS / "media" / "Obama_5s.wav"
    shutil.copy(speech, root / "media" / "Obama_5s.wav")
    text = (SCENARIOS / "bbox_margin_tuning.yaml").read_text(encoding="utf-8")
    cut = text.replace("{from: -9, to: 9, step: 3}", f"{{from: -9, to: 9, step: {step}}}").replace(
        "[0, 10, 25, 50]", margins)
    assert cut.count(f"step: {step}") == 1 and margins in cut, "the tuning scenario changed: update small_tuning"
    path = root / "bbox_margin_tuning.yaml"
    path.write_text(cut, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _sigint_as_python_sets_it():
    """Ctrl-C tests send SIGINT to child processes, and a child inherits an *ignored* SIGINT from its parent
    (a handler is reset at exec, SIG_IGN is not): whatever a test or a library it calls did to this worker's
    SIGINT, the next test starts with Python's own, so its children stop on Ctrl-C (a CI run on three
    workers saw both Ctrl-C tests of one worker hang as if the signal were ignored)."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
