"""Ask/tell sweeps: an Optuna study per face x speech x voice proposes the face controls to pay for.

A scenario with ``search:`` does not list its cases. For each combination of its faces,
speech and voices a :class:`StudySource` asks an Optuna study for a setting of the matrix's
face-control axes, hands the runner its jobs (``repeats`` videos), and tells the study the
objective once they end. The study is Optuna's own, in Optuna's storage (the run directory's
``study.journal`` unless ``--study-storage`` names another), so ``optuna-dashboard`` opens
it during the run, several processes can share one search, and a resumed run continues it.

Rules that keep a search honest:

- a trial whose video failed, timed out or has no value for the objective is told to the
  study as failed, never as a zero;
- a setting already measured in the study is told its earlier value, not paid for again;
- a trial cut off by a stop or a budget stays running in the study and is picked up by
  ``--resume`` (its task polled, never submitted twice).
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import math
import statistics
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from navtalk_sweep.errors import InvalidArgument, RunError, one_line
from navtalk_sweep.record import CaseRecord, weighted
from navtalk_sweep.runner import Job, JobState
from navtalk_sweep.scenario import Case, ScenarioPlan
from navtalk_sweep.scenario._model import Direction, Sampler, Search
from navtalk_sweep.scenario._plan import AxisValue, ZippedValues

if TYPE_CHECKING:
    import optuna

__all__ = ["STUDY_FILE", "StudySource", "available", "open_storage", "require", "storage_label"]

#: the study's storage in a run directory when no ``--study-storage`` is given
STUDY_FILE = "study.journal"
EXTRA = "pip install 'navtalk-sweep[search]'"


def available() -> bool:
    try:
        import optuna  # noqa: F401
    except ImportError:
        return False
    return True


def require(plans: Sequence[ScenarioPlan]) -> None:
    """One line naming the extra when a scenario searches and Optuna is not installed."""
    if plans and not available():
        raise InvalidArgument(f"scenario '{plans[0].name}' searches (search:), which needs Optuna: {EXTRA}")
    for plan in plans:
        assert plan.search is not None
        if plan.search.sampler is Sampler.GP and importlib.util.find_spec("torch") is None:
            raise InvalidArgument(f"scenario '{plan.name}': sampler gp needs PyTorch (pip install torch); "
                                  "tpe needs nothing more")
        if plan.search.sampler is Sampler.CMAES and importlib.util.find_spec("cmaes") is None:
            raise InvalidArgument(f"scenario '{plan.name}': sampler cmaes needs the cmaes package: {EXTRA}")
        if not plan.dimensions:
            raise InvalidArgument(f"scenario '{plan.name}' searches but its matrix has no face-control axis "
                                  "(bbox_shift, extra_margin, parsing_mode, left/right_cheek_width) to search over")


def storage_label(url: str | None) -> str | None:
    """The storage as it may be written down: a database password is never kept."""
    if url is None or "://" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


#: a journal file's lock held this long was left by a killed process: a journal append takes milliseconds
#: (Optuna's default waits 30 s, which a resume after a SIGKILL spent waiting)
LOCK_GRACE = 5


def open_storage(url: str | None, run_dir: Path, *, owned: bool = False) -> optuna.storages.BaseStorage:
    """Optuna storage: a database URL (``sqlite:///x.db``, ``postgresql://...``), a journal file path, or
    the run directory's ``study.journal``. ``owned``: the caller holds the run directory's lock, so a lock
    file left beside the run directory's own journal is a killed writer's, and is removed."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileSymlinkLock, JournalStorage

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if url is not None and "***" in url:
        raise InvalidArgument("the study storage's password is not kept in run.json: give --study-storage again")
    try:
        if url is not None and "://" in url:
            return optuna.storages.RDBStorage(url)
        path = str(Path(url) if url else run_dir / STUDY_FILE)
        if owned and url is None:
            Path(path + ".lock").unlink(missing_ok=True)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileSymlinkLock(path, grace_period=LOCK_GRACE)))
    except Exception as exc:  # noqa: BLE001 (a bad URL, a missing driver, a database down: many kinds)
        raise InvalidArgument(f"cannot open the study storage {storage_label(url) or run_dir / STUDY_FILE}: "
                              f"{one_line(str(exc))}") from None


# -- the search space ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    """One face-control axis as one parameter of the study."""

    name: str
    values: Sequence[AxisValue]

    @property
    def _column(self) -> Sequence[Any] | None:
        if isinstance(self.values, ZippedValues) and len(self.values.fields) == 1:
            return self.values.columns[0]
        return None  # a linked axis: the study picks a position

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import CategoricalDistribution, IntDistribution

        column = self._column
        if isinstance(column, range) and len(column) > 1:
            return IntDistribution(column[0], column[-1], step=column.step)
        if column is not None:
            return CategoricalDistribution(list(column))
        return CategoricalDistribution(list(range(len(self.values))))

    def params(self, value: Any) -> dict[str, Any]:
        """The case parameters a study value stands for."""
        if self._column is not None:
            assert isinstance(self.values, ZippedValues)
            return {self.values.fields[0]: value}
        return dict(self.values[int(value)].params)

    def choices(self) -> list[Any]:
        column = self._column
        return list(column) if column is not None else list(range(len(self.values)))


def _sampler(search: Search, dimensions: Sequence[Dimension]) -> optuna.samplers.BaseSampler:
    import optuna

    kind, seed = search.sampler, search.seed
    # random trials first, one per control searched plus two (at most 10), then the model: Optuna's
    # default of 10 is most of a small budget (benchmarks/bench_search.py: 5 against 10 on three controls)
    startup = min(10, len(dimensions) + 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if kind is Sampler.TPE:
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, constant_liar=True)
        if kind is Sampler.CMAES:
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=startup, warn_independent_sampling=False)
        if kind is Sampler.GP:
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
        if kind is Sampler.GRID:
            return optuna.samplers.GridSampler({d.name: d.choices() for d in dimensions}, seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)


def study_name(plan: ScenarioPlan, combination: Mapping[str, Any]) -> str:
    """The study's name in its storage: the scenario and the combination, readable in the dashboard."""
    shown = ",".join(f"{k}={v}" for k, v in combination.items())
    return f"{plan.name}[{shown}]" if shown else plan.name


# -- one study -------------------------------------------------------------------------------------


@dataclass
class _Trial:
    number: int
    params: dict[str, Any]
    jobs: list[Job]
    records: dict[str, list[CaseRecord]]
    followers: list[int]


class StudySource:
    """The jobs of one study, asked as slots free up (a :class:`~navtalk_sweep.runner.JobSource`)."""

    def __init__(self, plan: ScenarioPlan, combination: Mapping[str, Any], storage: optuna.storages.BaseStorage,
                 *, run_id: str, states: Mapping[str, JobState] | None = None,
                 records: Mapping[str, Sequence[CaseRecord]] | None = None,
                 on_job: Callable[[Job], None] | None = None, own_storage: bool = False) -> None:
        import optuna

        assert plan.search is not None
        self.plan, self.search, self.combination = plan, plan.search, dict(combination)
        self.name = study_name(plan, combination)
        self._tag = hashlib.sha256(self.name.encode()).hexdigest()[:6]
        self.dimensions = [Dimension(plan.axes[a].name, plan.axes[a].values) for a in plan.dimensions]
        self.distributions = {d.name: d.distribution() for d in self.dimensions}
        self.run_id = run_id
        #: the storage is this run directory's own: a running trial nobody tagged is this run's, asked just
        #: before a kill (between Optuna's ask and the tag); in a shared storage it may be another's
        self.own_storage = own_storage
        self._states, self._journal = dict(states or {}), dict(records or {})
        self._on_job = on_job
        direction: Literal["maximize", "minimize"] = \
            "maximize" if self.search.direction is Direction.MAXIMIZE else "minimize"
        try:
            self.study = optuna.create_study(storage=storage, study_name=self.name, direction=direction,
                                             sampler=_sampler(self.search, self.dimensions), load_if_exists=True)
        except ValueError as exc:  # the same name with another direction in a shared storage
            raise RunError(f"study {self.name!r}: {one_line(str(exc))}") from None
        self._live: dict[int, _Trial] = {}  # trials asked or resumed by this process and not yet told
        self._handles: dict[int, optuna.trial.Trial] = {}  # to note on a trial before it is told
        self._wake: asyncio.Event | None = None
        self.stalled = False  # a job ended without a result (a stop, a budget): ask no more

    @property
    def size(self) -> int:
        return self.search.trials * self.search.repeats

    def space_size(self) -> int:
        return math.prod(len(d.choices()) for d in self.dimensions)

    # -- cases and jobs ----------------------------------------------------------------------

    def case(self, params: Mapping[str, Any]) -> Case:
        merged: dict[str, Any] = dict(self.combination)
        for d in self.dimensions:
            merged.update(d.params(params[d.name]))
        return self.plan.case(merged)

    def keys(self, params: Mapping[str, Any]) -> list[str]:
        """The setting's job keys: its case id and this study's tag (two studies asking one request keep their
        records apart), one per repeat."""
        base = f"{self.case(params).case_id}@{self._tag}"
        n = self.search.repeats
        return [base] if n == 1 else [f"{base}~{r + 1}" for r in range(n)]

    def _jobs(self, number: int, params: Mapping[str, Any]) -> list[Job]:
        case = self.case(params)
        jobs = []
        for r, key in enumerate(self.keys(params)):
            job = Job(key, [case], r + 1, annotations={"trial": {"study": self.name, "number": number}})
            if key in self._states:
                job.state = self._states[key]
            jobs.append(job)
            if self._on_job is not None:
                self._on_job(job)
        return jobs

    # -- asking ------------------------------------------------------------------------------

    def _trials(self, *states: Any) -> list[optuna.trial.FrozenTrial]:
        return self.study.get_trials(deepcopy=False, states=states or None)

    def mine(self) -> list[optuna.trial.FrozenTrial]:
        """The study's trials this run directory asked, in order."""
        return [t for t in self._trials() if t.user_attrs.get("run") == self.run_id
                or (self.own_storage and "run" not in t.user_attrs)]

    def complete(self, params: Mapping[str, Any]) -> bool:
        """Whether a trial's setting names every control searched: Optuna writes an asked trial's values one
        by one, so a kill during ``ask`` leaves a running trial with some of them."""
        return all(d.name in params for d in self.dimensions)

    def _counted(self) -> list[optuna.trial.FrozenTrial]:
        """The trials that count against the budget: every one asked (running, complete or failed)."""
        from optuna.trial import TrialState

        return self._trials(TrialState.COMPLETE, TrialState.FAIL, TrialState.RUNNING)

    def _used(self) -> int:
        return len(self._counted())

    def _known_value(self, params: Mapping[str, Any]) -> tuple[int, float | None] | None:
        """An earlier finished trial of the same setting: its number and value (None: it failed)."""
        from optuna.trial import TrialState

        for t in self._trials(TrialState.COMPLETE, TrialState.FAIL):
            if t.params == dict(params):
                return t.number, (t.value if t.state is TrialState.COMPLETE else None)
        return None

    def _settings_tried(self) -> int:
        return len({tuple(sorted(t.params.items())) for t in self._trials() if t.params})

    async def __aiter__(self) -> AsyncIterator[Job]:
        import optuna
        from optuna.trial import TrialState

        self._wake = asyncio.Event()
        for frozen in self.mine():  # resume: trials this run asked and never told
            if frozen.state is TrialState.RUNNING:
                self._handles[frozen.number] = optuna.trial.Trial(self.study, frozen._trial_id)
                self._handles[frozen.number].set_user_attr("run", self.run_id)
                if not self.complete(frozen.params):  # killed while Optuna wrote it: nothing was sent for it
                    self._tell(frozen.number, None, note="asked as the run was killed: its setting is incomplete")
                    continue
                for job in self._begin(frozen.number, dict(frozen.params)):
                    yield job
        while not self.stalled:
            if len(self._live) >= self.search.parallel:
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._used() >= self.search.trials or self._settings_tried() >= self.space_size():
                return
            trial = self.study.ask(self.distributions)
            trial.set_user_attr("run", self.run_id)
            self._handles[trial.number] = trial
            if self._past_budget(trial.number):
                return
            for job in self._begin(trial.number, dict(trial.params)):
                yield job

    def _past_budget(self, number: int) -> bool:
        """Fail trial ``number`` unpaid if it lies past the study's budget: processes sharing a study count
        its trials, then ask, so two can ask the last one; the study's numbering decides which is past."""
        if number in sorted(t.number for t in self._counted())[: self.search.trials]:
            return False
        self._tell(number, None, note=f"asked past the study's budget of {self.search.trials} trials (another "
                                      "process asked at the same time): nothing sent")
        return True

    def _begin(self, number: int, params: dict[str, Any]) -> list[Job]:
        """Start a trial: the jobs to run for it (none when its value is known or its jobs have ended)."""
        if self.plan.rules:
            merged = {**self.combination}
            for d in self.dimensions:
                merged.update(d.params(params[d.name]))
            idx = self.plan.index_of(merged)
            if idx is not None and self.plan.grid.excluded(idx):
                self._tell(number, None, note="excluded by the scenario's rules")
                return []
        known = self._known_value(params)
        if known is not None:  # measured before in this study: told its value, not paid again
            earlier, value = known
            self._tell(number, value, note=f"same setting as trial {earlier}")
            return []
        for live in self._live.values():
            if live.params == params:  # the same setting is in flight: told when it is
                live.followers.append(number)
                return []
        jobs = self._jobs(number, params)
        trial = _Trial(number, params, jobs, {}, [])
        self._live[number] = trial
        waiting = []
        for job in jobs:
            if job.state.finished and job.key in self._journal:
                trial.records[job.key] = list(self._journal[job.key])
            else:
                waiting.append(job)
        if not waiting:
            self._conclude(trial)
        if waiting and number in self._handles:
            self._handles[number].set_user_attr("paid", len(jobs))
        return waiting

    # -- telling -----------------------------------------------------------------------------

    def tell(self, job: Job, records: Sequence[CaseRecord], final: bool) -> None:
        number = job.annotations["trial"]["number"]
        trial = self._live.get(number)
        if trial is None:
            return
        if not final:
            # cut off (a stop, a budget): the trial stays running in the study; --resume picks it up
            self.stalled = True
            del self._live[number]
        else:
            trial.records[job.key] = list(records)
            if len(trial.records) == len(trial.jobs):
                self._conclude(trial)
        if self._wake is not None:
            self._wake.set()

    def _conclude(self, trial: _Trial) -> None:
        values = []
        note = None
        for job in trial.jobs:
            recs = trial.records.get(job.key) or []
            value = weighted(recs[0], self.search.measures) if recs else None
            if value is None:
                why = (recs[0].error or f"no value for {', '.join(self.search.measures)}") if recs else "no record"
                note = f"{job.key}: {one_line(why)[:200]}"
                break
            values.append(value)
        mean = statistics.fmean(values) if note is None and values else None
        self._live.pop(trial.number, None)
        self._tell(trial.number, mean, note=note)
        for follower in trial.followers:
            self._tell(follower, mean, note=f"same setting as trial {trial.number}")

    def _tell(self, number: int, value: float | None, *, note: str | None = None) -> None:
        from optuna.trial import TrialState

        handle = self._handles.pop(number, None)
        if note and handle is not None:
            handle.set_user_attr("note", note)
        try:
            if value is None:
                self.study.tell(number, state=TrialState.FAIL, skip_if_finished=True)
            else:
                self.study.tell(number, value, skip_if_finished=True)
        except (ValueError, RuntimeError):  # told already (by another process): the records are kept all the same
            pass

    # -- what it found -------------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The study as the report shows it: each trial, the best, the controls' importances."""
        from optuna.trial import TrialState

        trials = []
        for t in self._trials():
            if not self.complete(t.params):
                continue
            trials.append({"number": t.number, "state": t.state.name.lower(), "value": t.value,
                           "params": self._readable(t.params), "keys": self.keys(t.params),
                           "mine": t.user_attrs.get("run") == self.run_id, "paid": t.user_attrs.get("paid", 0),
                           "note": t.user_attrs.get("note")})
        complete = self._trials(TrialState.COMPLETE)
        best = None
        if complete:
            b = self.study.best_trial
            best = {"number": b.number, "value": b.value, "params": self._readable(b.params), "keys": self.keys(b.params)}
        importances, why = self._importances(len(complete))
        return {"study": self.name, "scenario": self.plan.name, "combination": self.combination,
                "objective": self.search.measures, "direction": self.search.direction.value,
                "sampler": self.search.sampler.value, "repeats": self.search.repeats,
                "trials_allowed": self.search.trials, "trials": trials, "best": best,
                "importances": importances, "importances_note": why,
                "paid": sum(t["paid"] for t in trials if t["mine"]),
                "grid_size": self.space_size()}

    def _readable(self, params: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for d in self.dimensions:
            if d.name in params:
                out.update(d.params(params[d.name]))
        return out

    def _importances(self, complete: int) -> tuple[dict[str, float] | None, str | None]:
        import optuna

        varied = [d.name for d in self.dimensions if len(d.choices()) > 1]
        if complete < 4 or len(varied) < 2:
            return None, (f"{complete} finished trial(s): too few to weigh the controls" if complete < 4 else
                          "one control varies: nothing to weigh it against")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                found = optuna.importance.get_param_importances(self.study, params=varied)
        except (RuntimeError, ValueError, ZeroDivisionError) as exc:
            return None, one_line(str(exc))
        return {k: round(float(v), 3) for k, v in found.items()}, None
