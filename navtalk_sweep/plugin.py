"""pytest plugin: the ``navtalk_mock`` fixture and marker, and scenario files as tests.

Only pytest is imported at start-up; the mock and the sweep engine are imported when a
test asks for them or a scenario file is collected.

    @pytest.mark.navtalk_mock(seed=3, timing="fixed:5")
    def test_my_integration(navtalk_mock):
        my_service.render(...)             # calls https://app.navtalk.ai/generate
        navtalk_mock.advance(5)
        assert navtalk_mock.calls["generate"] == 1

Scenario files become tests when named by the ``navtalk_scenarios`` ini option (globs
relative to the rootdir) or given on the command line: ``pytest scenarios/quickstart.yaml``.
Each case is one test, all cases of the session run as one concurrent sweep (see
``docs/pytest.md``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pathlib import Path

    from navtalk_sweep.mock import NavTalkMock

_SUFFIXES = (".yaml", ".yml")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("navtalk_generate_url", "URL the navtalk_mock fixture intercepts for /generate",
                  default="https://app.navtalk.ai/generate")
    parser.addini("navtalk_status_url", "URL the navtalk_mock fixture intercepts for /query_status",
                  default="https://api.navtalk.ai/query_status")
    parser.addini("navtalk_scenarios", "scenario files collected as tests (globs relative to the rootdir)",
                  type="linelist", default=[])
    group = parser.getgroup("navtalk", "navtalk-sweep scenario files as tests")
    group.addoption("--navtalk-target", default=None, metavar="TARGET",
                    help="where scenario cases go: mock (the default, in-process, virtual clock), navtalk "
                         "(the vendor, or NAVTALK_GENERATE_URL/NAVTALK_STATUS_URL), or a base URL")
    group.addoption("--navtalk-run-dir", default=None, metavar="DIR",
                    help="the run directory (default reports/<run id> under the rootdir)")
    group.addoption("--navtalk-baseline", default=None, metavar="DIR",
                    help="compare with a known-good run; regressions fail the session")
    group.addoption("--navtalk-mock-config", default=None, metavar="FILE",
                    help="simulator settings for the mock target (YAML/JSON: timing, faults, licences)")
    group.addoption("--navtalk-mock-clock", default="virtual", choices=["virtual", "real"],
                    help="the mock target's clock: virtual (tasks take no time, the default) or real")
    # the CLI's run options (budget, confirmation, polling), declared once for both
    from navtalk_sweep._run_options import PYTEST_PREFIX, add_options

    add_options(group.addoption, PYTEST_PREFIX)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "navtalk_mock(seed=0, replay=None, **settings): configure the navtalk_mock fixture (settings as in "
        "SimulatorConfig, e.g. timing='fixed:5', licenses=['sk-test'], faults=[{'kind': 'http_503'}]; replay: "
        "run directories recorded with run --record, relative to the rootdir)",
    )
    if _scenarios_asked(config):
        from navtalk_sweep import _pytest_items

        _pytest_items.register_markers(config)
        keyword = config.option.keyword
        if keyword:
            config.option.keyword = _pytest_items.translate_keyword(keyword)


def _scenarios_asked(config: pytest.Config) -> bool:
    return bool(config.getini("navtalk_scenarios")) or any(_is_scenario_arg(a) for a in config.args)


def _is_scenario_arg(arg: str) -> bool:
    return arg.split("::")[0].endswith(_SUFFIXES)


def _matched(config: pytest.Config) -> set[Path]:
    """The files the ``navtalk_scenarios`` patterns name: relative to the rootdir (``../`` included) or
    absolute; a pattern that names nothing says so once (it would otherwise collect nothing, silently)."""
    import glob
    import warnings
    from pathlib import Path

    cached: set[Path] | None = config.stash.get(_MATCHED, None)
    if cached is not None:
        return cached
    found: set[Path] = set()
    for pattern in config.getini("navtalk_scenarios"):
        hits = {Path(h).resolve() for h in glob.glob(str(Path(config.rootpath) / pattern), recursive=True)}
        if not hits:
            warnings.warn(pytest.PytestConfigWarning(f"navtalk_scenarios: {pattern!r} names no file (patterns are "
                                                     f"relative to the rootdir {config.rootpath})"), stacklevel=1)
        found |= hits
    config.stash[_MATCHED] = found
    return found


_MATCHED = pytest.StashKey[set["Path"]]()


def _wanted(file_path: Path, config: pytest.Config) -> bool:
    if file_path.suffix not in _SUFFIXES:
        return False
    from pathlib import Path

    if file_path.resolve() in _matched(config):
        return True
    return any(_is_scenario_arg(a) and Path(a.split("::")[0]).resolve() == file_path.resolve()
               for a in config.invocation_params.args)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not _wanted(file_path, parent.config):
        return None
    from navtalk_sweep._pytest_items import ScenarioFile

    return ScenarioFile.from_parent(parent, path=file_path)


def pytest_collection_finish(session: pytest.Session) -> None:
    if "navtalk_sweep._pytest_items" in _loaded():
        from navtalk_sweep._pytest_items import start

        start(session)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if "navtalk_sweep._pytest_items" not in _loaded():
        return
    from navtalk_sweep import _pytest_items

    _pytest_items.finish(session, exitstatus)
    config = session.config
    if getattr(config, "workerinput", None) is None and config.pluginmanager.hasplugin("dsession"):
        merged = _pytest_items.merge_workers(config)
        if merged is not None:
            config.stash[_pytest_items.MERGED] = merged
            comparison = config.stash.get(_pytest_items.COMPARISON, None)
            if comparison is not None and comparison.regressions:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """xdist: every worker writes under the run directory the controller chose."""
    if not _scenarios_asked(node.config):
        return  # a suite without scenario files loads nothing of navtalk-sweep's engine
    from navtalk_sweep._pytest_items import run_dir_of

    node.workerinput["navtalk_run_dir"] = str(run_dir_of(node.config))


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if "navtalk_sweep._pytest_items" not in _loaded():
        return
    from navtalk_sweep._pytest_items import summary_lines

    for line in summary_lines(config):
        terminalreporter.write_line(line)


def _loaded() -> set[str]:
    import sys

    return set(sys.modules)


@pytest.fixture
def navtalk_mock(request: pytest.FixtureRequest) -> Iterator[NavTalkMock]:
    """A NavTalk simulator intercepting both NavTalk base URLs through respx, on a manual clock."""
    __tracebackhide__ = True
    from navtalk_sweep.mock import NavTalkMock
    from navtalk_sweep.simulator import SimulatorConfig

    marker = request.node.get_closest_marker("navtalk_mock")
    settings: dict[str, Any] = dict(marker.kwargs) if marker else {}
    seed = int(settings.pop("seed", 0))
    replay = settings.pop("replay", None)
    if replay is not None:
        root = request.config.rootpath
        replay = [root / p for p in ([replay] if isinstance(replay, str) else replay)]
    config = SimulatorConfig.from_dict(settings) if settings else None
    urls = (request.config.getini("navtalk_generate_url"), request.config.getini("navtalk_status_url"))
    with NavTalkMock(seed=seed, config=config, base_urls=urls, replay=replay) as mock:
        yield mock
