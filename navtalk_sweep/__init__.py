"""navtalk-sweep: QA and tuning harness for the NavTalk digital-human video API.

The public names below are imported lazily (on first use), so that importing the
package, as pytest does for the ``navtalk_mock`` plugin, costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AsyncNavTalkClient": "navtalk_sweep.client",
    "Case": "navtalk_sweep.scenario",
    "Endpoint": "navtalk_sweep.client",
    "Fault": "navtalk_sweep.simulator",
    "Mode": "navtalk_sweep.contract",
    "NavTalkClient": "navtalk_sweep.client",
    "NavTalkMock": "navtalk_sweep.mock",
    "NavTalkSweepError": "navtalk_sweep.errors",
    "RunOptions": "navtalk_sweep.runner",
    "Runner": "navtalk_sweep.runner",
    "Simulator": "navtalk_sweep.simulator",
    "SimulatorConfig": "navtalk_sweep.simulator",
    "load_run": "navtalk_sweep.results",
    "load_scenarios": "navtalk_sweep.scenario",
    "mode_of": "navtalk_sweep.contract",
}

__all__ = [
    "AsyncNavTalkClient",
    "Case",
    "Endpoint",
    "Fault",
    "Mode",
    "NavTalkClient",
    "NavTalkMock",
    "NavTalkSweepError",
    "RunOptions",
    "Runner",
    "Simulator",
    "SimulatorConfig",
    "__version__",
    "load_run",
    "load_scenarios",
    "mode_of",
]

if TYPE_CHECKING:
    from navtalk_sweep.client import AsyncNavTalkClient, Endpoint, NavTalkClient
    from navtalk_sweep.contract import Mode, mode_of
    from navtalk_sweep.errors import NavTalkSweepError
    from navtalk_sweep.mock import NavTalkMock
    from navtalk_sweep.results import load_run
    from navtalk_sweep.runner import Runner, RunOptions
    from navtalk_sweep.scenario import Case, load_scenarios
    from navtalk_sweep.simulator import Fault, Simulator, SimulatorConfig


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'navtalk_sweep' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
