"""The example integration (examples/render_app): its tests pass, and broken copies of the app fail them
for the stated reason."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]
APP = ROOT / "examples" / "render_app"

#: how each broken copy differs from the app (lines replaced), and the test that must catch it
MUTANTS = {
    "ignores failed": (
        [('        if last == "failed":\n', '        if last == "failed" and False:\n')],
        "test_a_failed_task_is_an_error_with_the_reason"),
    "polls without a deadline": (
        [("        if remaining <= 0:\n", "        if False:\n"),
         ("        sleep(min(delay, remaining))\n", "        sleep(delay)\n")],
        "test_a_task_that_never_finishes_is_given_up_at_the_deadline"),
    "retries a submit blindly": (
        [('            raise SubmitUnknown(f"the submit\'s answer was lost ({type(exc).__name__})") from exc\n',
          "            continue\n")],
        "test_a_lost_submit_answer_is_never_paid_for_twice"),
}


#: the plugins the example's tests use, and no other (the test environment's others, schemathesis, playwright...,
#: cost every inner run their start-up). The runs are in this process: pytester takes back the modules
#: and the sys.path each imported or changed, so every copy's `render` is imported afresh (12.4 -> 5.0 s of CPU)
PLUGINS = ("-p", "no:cacheprovider", "-p", "navtalk_sweep.plugin", "-p", "_hypothesis_pytestplugin")


@pytest.fixture
def app(pytester, monkeypatch):
    for name in ("render.py", "test_render.py", "render_cases.yaml", "conftest.py"):
        shutil.copy(APP / name, pytester.path / name)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    return pytester


def test_the_example_tests_pass(app):
    result = app.runpytest(*PLUGINS)
    result.assert_outcomes(passed=23)


@pytest.mark.parametrize("mutant", MUTANTS)
def test_a_broken_copy_is_caught(app, mutant):
    changes, catcher = MUTANTS[mutant]
    source = (app.path / "render.py").read_text(encoding="utf-8")
    for old, new in changes:
        assert source.count(old) == 1, f"the app changed: update the {mutant!r} mutant"
        source = source.replace(old, new)
    (app.path / "render.py").write_text(source, encoding="utf-8")
    # the test that must catch it, alone: the others pass on the good copy (above) and say nothing here
    result = app.runpytest(*PLUGINS, "-q", "-k", catcher)
    failed = {line.split("::")[1].split("[")[0].split(" ")[0] for line in result.outlines
              if line.startswith("FAILED ")}
    assert catcher in failed, result.stdout.str()[-3000:]
