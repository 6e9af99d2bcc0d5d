"""What a sweep runs: scenario files loaded into cases (sharded, counted before any is built), and the
bundled mock's settings from a file. The session composes a run from these."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from navtalk_sweep.errors import InvalidArgument, ScenarioError, one_line

if TYPE_CHECKING:  # imported where used: the CLI reads MAX_CASES for every command's parser
    from navtalk_sweep.scenario import Case, ScenarioPlan
    from navtalk_sweep.simulator import SimulatorConfig

__all__ = ["MAX_CASES", "SweepPlan", "load_mock_config", "load_plan"]


@dataclass(frozen=True)
class SweepPlan:
    """Cases loaded from scenario files, with where they came from (kept in run.json for ``--resume``)."""

    cases: tuple[Case, ...]
    files: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    shard: tuple[int, int] = (0, 1)
    #: scenarios with ``search:``: their cases are asked of Optuna studies as the run goes
    searches: tuple[ScenarioPlan, ...] = ()
    #: what "best" means per scenario (``choose:`` or a search's objective), for the report
    objectives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: per scenario, how much each measure may worsen against a baseline (``expect.measures.X.drop``)
    tolerances: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


#: a run builds at most this many cases unless told otherwise (a typo in a range is not a bill)
MAX_CASES = 100_000


def load_plan(files: Sequence[str | os.PathLike[str]], *, shard: tuple[int, int] = (0, 1),
              max_cases: int | None = MAX_CASES) -> SweepPlan:
    """Load scenario files (or folders) and build their cases; ``shard=(k, n)`` keeps every n-th from the k-th
    (0-based), cut on the index space so other shards' cases are never built.

    Cases are counted before any is built: more than ``max_cases`` (None: no limit) is a
    ScenarioError naming the count.
    """
    from navtalk_sweep.scenario import load_scenarios

    index, count = shard
    if not (isinstance(index, int) and isinstance(count, int) and 0 <= index < count):
        raise InvalidArgument(f"shard must be (index, count) with 0 <= index < count, got {shard!r}")
    plans, warnings = load_scenarios([str(f) for f in files])
    total = sum(p.count() for p in plans)
    mine = (total - index + count - 1) // count
    if max_cases is not None and mine > max_cases:
        biggest = max(plans, key=lambda p: p.count())  # where to look: the scenario with the most cases
        line, column = biggest.where.get("matrix", (0, 0))
        raise ScenarioError(f"{mine} cases to run{f' in shard {index + 1}/{count}' if count > 1 else ''}, over the "
                            f"limit of {max_cases} ({biggest.count()} in scenario '{biggest.name}'): narrow the grid, "
                            "sample it (sample: {method: random, n: ...}), shard it, or raise the limit (--max-cases)",
                            path=biggest.source, line=line, column=column)
    # a search is not cut: each goes whole to one shard (the i-th to shard i mod n); machines that should
    # share one search are given the same --study-storage instead
    searches = tuple(p for i, p in enumerate(q for q in plans if q.search is not None) if i % count == index)
    cases: list[Case] = []
    offset = 0
    for p in plans:
        cases += p.shard(index, count, offset)
        offset += p.count()
    return SweepPlan(tuple(cases), tuple(str(Path(f).resolve()) for f in files), tuple(p.name for p in plans),
                     tuple(warnings), shard, searches,
                     {p.name: p.objective.as_dict() for p in plans if p.objective is not None},
                     {p.name: drops for p in plans
                      if (drops := {m: b.drop for m, b in p.expect.measures.items() if b.drop is not None})})


def load_mock_config(path: str | os.PathLike[str]) -> SimulatorConfig:
    """Simulator settings from a YAML or JSON file (timing, faults, licences, dialect)."""
    import yaml

    from navtalk_sweep.simulator import SimulatorConfig

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"{path}: cannot read mock config: {one_line(str(exc))}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: mock config must be a mapping")
    try:
        return SimulatorConfig.from_dict(data)
    except InvalidArgument as exc:
        raise InvalidArgument(f"{path}: {exc}") from None
