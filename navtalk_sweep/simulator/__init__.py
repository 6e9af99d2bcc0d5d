"""NavTalk's behaviour as a pure state machine: validation, lifecycle, timing, faults, counters."""

from navtalk_sweep.cassette import Cassette
from navtalk_sweep.simulator._config import Condition, Fault, SimulatorConfig, Timing
from navtalk_sweep.simulator._core import MediaFetcher, Reply, Simulator, Task
from navtalk_sweep.simulator._faults import FAULT_KINDS, FaultAnswer, FaultKind, FaultStage, RetryAfter

__all__ = [
    "FAULT_KINDS",
    "Cassette",
    "Condition",
    "Fault",
    "FaultAnswer",
    "FaultKind",
    "FaultStage",
    "MediaFetcher",
    "Reply",
    "RetryAfter",
    "Simulator",
    "SimulatorConfig",
    "Task",
    "Timing",
]
