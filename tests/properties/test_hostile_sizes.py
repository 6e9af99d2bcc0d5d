"""Scenarios of any size: validate and plan stay small and quick, or say why in one line (exit 2)."""

from __future__ import annotations

import contextlib
import io
import resource
import subprocess
import sys
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from navtalk_sweep.cli import main

HEAD = """name: hostile
inputs:
  faces: {g: {character_name: girl2}}
  speech: {h: {text: hello, voice: nova}}
"""


@st.composite
def scenarios(draw: st.DrawFn) -> str:
    axes = []
    for name in draw(st.lists(st.sampled_from(["bbox_shift", "extra_margin", "left_cheek_width"]), min_size=1,
                              max_size=3, unique=True)):
        low = draw(st.integers(-10**12, 10**12))
        high = low + draw(st.integers(0, 10**12))
        axes.append(f"  {name}: {{from: {low}, to: {high}, step: {draw(st.integers(1, 10**6))}}}")
    text = HEAD + "matrix:\n" + "\n".join(axes) + "\n"
    method = draw(st.sampled_from(["all", "random", "pairwise"]))
    if method == "random":
        text += f"sample: {{method: random, n: {draw(st.integers(1, 10**12))}, seed: 3}}\n"
    elif method == "pairwise":
        text += "sample: {method: pairwise}\n"
    if draw(st.booleans()):
        text += "exclude:\n" + "".join(f"  - {{bbox_shift: [{v}, {v + 1}]}}\n"
                                       for v in draw(st.lists(st.integers(-50, 50), max_size=25)))
    return text


@settings(max_examples=15, deadline=None)
@given(text=scenarios())
def test_validate_and_plan_of_any_scenario_stay_small(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("s") / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    for argv in (["validate", str(path)], ["plan", str(path), "--show", "3"]):
        out, err = io.StringIO(), io.StringIO()
        tracemalloc.start()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 64 * 2**20, (argv[0], peak)
        errors = [line for line in err.getvalue().splitlines() if ": warning: " not in line]
        if code == 0:
            assert not errors
        else:
            assert code == 2 and len(errors) == 1 and errors[0].startswith(str(path)), err.getvalue()


HUGE = HEAD + "matrix:\n  bbox_shift: {from: -1000000000, to: 1000000000, step: 1}\n"


def limited(argv: list[str], tmp_path) -> subprocess.CompletedProcess:
    """The CLI with its address space capped at 1 GiB: a listed range of 2e9 values cannot fit."""
    path = tmp_path / "huge.yaml"
    path.write_text(HUGE, encoding="utf-8")
    cap = 2**30

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    return subprocess.run([sys.executable, "-m", "navtalk_sweep.cli", *argv, str(path)], capture_output=True,
                          text=True, timeout=120, preexec_fn=limit, check=False)


@pytest.mark.parametrize(("argv", "code", "says"), [
    (["validate"], 0, "ok: 1 scenario(s), 2000000001 case(s)"),
    (["plan", "--show", "2"], 0, "total: 2000000001 case(s) in 1 scenario(s)"),
    (["run", "--dry-run"], 2, "2000000001 cases to run, over the limit of 100000"),
])
def test_a_two_billion_value_range_under_a_memory_limit(tmp_path, argv, code, says):
    proc = limited(argv, tmp_path)
    assert proc.returncode == code, proc.stderr
    assert says in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "MemoryError" not in proc.stderr
