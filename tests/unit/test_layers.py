"""Imports go down the layers of ARCHITECTURE.md; the public API is small and pinned."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, extra_tool

MOCK_SERVER_MAY_IMPORT = {"navtalk_sweep.simulator", "navtalk_sweep.contract", "navtalk_sweep.errors",
                          "navtalk_sweep.clock", "navtalk_sweep.media",
                          # result media: the face the request gave, rendered (docs/design.md)
                          "navtalk_sweep", "navtalk_sweep.analysis.render",
                          # ... on the run's other cores when it has worker processes
                          "navtalk_sweep.analysis.pool"}


def test_import_linter_contracts_hold():
    lint = extra_tool("lint-imports")
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def imports_of(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_mock_server_uses_only_the_simulator_side_of_the_package():
    for path in (ROOT / "mock_server").glob("*.py"):
        ours = {m for m in imports_of(path) if m.startswith("navtalk_sweep")}
        assert ours <= MOCK_SERVER_MAY_IMPORT, (path.name, ours - MOCK_SERVER_MAY_IMPORT)


def test_lower_layers_import_no_http_library():
    for name in ("contract.py", "errors.py", "media.py", "clock.py"):
        assert not {m for m in imports_of(ROOT / "navtalk_sweep" / name) if m.split(".")[0] in ("httpx", "respx")}
    for path in (ROOT / "navtalk_sweep" / "simulator").glob("*.py"):
        assert not {m for m in imports_of(path) if m.split(".")[0] in ("httpx", "respx", "uvicorn")}


@pytest.mark.parametrize(("module", "names"), [
    ("navtalk_sweep.scenario", ["PARAMETERS", "Case", "Expect", "Grid", "LoadedFile", "Sample", "Scenario",
                                "ScenarioFile", "ScenarioPlan", "case_id_of", "json_schema", "load_path",
                                "load_scenarios", "load_text", "scenario_files"]),
    ("navtalk_sweep.simulator", ["FAULT_KINDS", "Cassette", "Condition", "Fault", "FaultAnswer", "FaultKind", "FaultStage",
                                 "MediaFetcher", "Reply", "RetryAfter", "Simulator", "SimulatorConfig", "Task",
                                 "Timing"]),
    ("navtalk_sweep.report", ["Comparison", "LiveReport", "axes_of", "compare_runs", "format_comparison", "junit_tree",
                              "merge_runs", "percentile", "publish", "render_html", "summary", "write_html",
                              "write_junit"]),
    ("navtalk_sweep.runner", ["BAD_OUTCOMES", "EVENT_TYPES", "OUTCOMES", "CaseFinished", "CaseSubmitted", "Event",
                              "Fetcher", "Job", "JobSource", "JobState", "MediaUrl", "PlanSource", "PollFailed",
                              "PollSchedule", "RunFinished",
                              "RunOptions", "RunStarted", "RunStopped", "Runner", "StatusObserved", "SubmitRetried",
                              "SubmitStarted", "advance", "evaluate", "event_from_dict", "plan_jobs"]),
    ("navtalk_sweep.results", ["SEARCH", "Journal", "Replayed", "Run", "RunDirectory", "RunLock", "RunMeta", "VideoSink",
                               "finished_records", "in_order", "load_run", "new_run_id", "read_journal", "replay",
                               "write_json", "write_meta", "write_results"]),
    ("navtalk_sweep.client", ["AsyncNavTalkClient", "CookielessAsyncClient", "Endpoint", "NavTalkClient", "RecordingTransport", "Submitted",
                              "TaskStatus"]),
    ("navtalk_sweep.record", ["BAD_OUTCOMES", "FIELDS", "Better", "CaseRecord", "Check", "Field", "Kind", "Outcome", "StatusAt",
                              "numeric_fields", "shared", "weighted"]),
    ("navtalk_sweep.session", ["MAX_CASES", "MOCK_LICENSE", "MockClock", "RunStatus", "Sweep", "SweepPlan", "SweepResult",
                               "Target", "TargetKind", "load_mock_config", "load_plan", "read_meta",
                               "resume_sweep", "run_sweep"]),
    ("mock_server", ["HttpReply", "MockService", "MockTransport", "create_app", "create_service",
                     "openapi_document"]),
])
def test_public_api_is_pinned(module, names):
    mod = __import__(module, fromlist=["__all__"])
    assert mod.__all__ == names
    for name in names:
        assert hasattr(mod, name)


def test_errors_form_one_tree():
    from navtalk_sweep import errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.NavTalkSweepError)
    assert issubclass(errors.InvalidArgument, TypeError)
    # the command line's usage errors and Python API misuse are told apart
    assert not issubclass(errors.UsageError, TypeError) and not issubclass(errors.UsageError, errors.InvalidArgument)


def test_ruff_finds_nothing():
    ruff = extra_tool("ruff")
    result = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-1000:]


def test_package_type_checks_strictly():
    mypy = extra_tool("mypy")
    result = subprocess.run([mypy], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def test_top_level_api_is_pinned_and_lazy():
    code = ("import sys, navtalk_sweep; heavy = {'pydantic', 'httpx', 'respx', 'yaml', 'av'} & set(sys.modules); "
            "print(sorted(heavy)); print(navtalk_sweep.Mode(4).label)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines() == ["[]", "image+tts"]
    import navtalk_sweep

    assert navtalk_sweep.__all__ == [
        "AsyncNavTalkClient", "Case", "Endpoint", "Fault", "Mode", "NavTalkClient", "NavTalkMock",
        "NavTalkSweepError", "RunOptions", "Runner", "Simulator", "SimulatorConfig", "__version__", "load_run",
        "load_scenarios", "mode_of"]
    for name in navtalk_sweep.__all__:
        assert getattr(navtalk_sweep, name) is not None


def test_the_command_line_imports_what_its_command_needs():
    """Every command builds the whole parser: it once imported the runner, client, report and session
    (0.8 s of CPU before ``validate`` read a line); ``validate`` needs the scenario layer only."""
    code = ("import sys; from navtalk_sweep.cli import build_parser; build_parser(); "
            "print(sorted({'pydantic', 'httpx', 'jinja2', 'yaml', 'navtalk_sweep.runner', 'navtalk_sweep.session', "
            "'navtalk_sweep.report', 'navtalk_sweep.scenario'} & set(sys.modules))); "
            "from navtalk_sweep.cli import main; main(['validate', sys.argv[1]]); "
            "print(sorted({'httpx', 'jinja2', 'navtalk_sweep.runner', 'navtalk_sweep.report'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "scenarios" / "quickstart.yaml")],
                         capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.splitlines() == ["[]", "ok: 1 scenario(s), 27 case(s)", "[]"]


def test_lazy_exports_match_all():
    import navtalk_sweep

    assert sorted([*navtalk_sweep._EXPORTS, "__version__"]) == navtalk_sweep.__all__
