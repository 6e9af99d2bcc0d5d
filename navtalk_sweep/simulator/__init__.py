"""NavTalk's behaviour as a pure state machine: validation, lifecycle, timing, faults, counters."""

from navtalk_sweep.simulator._config import FAULT_KINDS, Condition, Fault, SimulatorConfig, Timing
from navtalk_sweep.simulator._core import MediaFetcher, Reply, Simulator, Task

__all__ = [
    "FAULT_KINDS",
    "Condition",
    "Fault",
    "MediaFetcher",
    "Reply",
    "Simulator",
    "SimulatorConfig",
    "Task",
    "Timing",
]
