"""Scenario files as pytest items: one item per case, all cases run as one concurrent sweep.

Loaded by ``navtalk_sweep.plugin`` only when a scenario file is collected. The items are
views onto one :class:`~navtalk_sweep.session.Sweep` that starts in a background thread
once collection and deselection are done (``pytest_collection_finish``); each item waits
for its own case's record and passes or fails on its ``expect`` checks. Under
pytest-xdist each worker sweeps its share of the cases (every N-th) into
``RUN_DIR/<worker>``, an item whose case another worker ran waits for that worker's
journal, and the controller merges the workers' directories into one run and one report.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from navtalk_sweep._run_options import PYTEST_PREFIX, confirm_paid, option_default, read_options, run_options
from navtalk_sweep.contract import VOICES, Mode
from navtalk_sweep.errors import NavTalkSweepError, RunError, ScenarioError, one_line
from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.report import format_comparison, merge_runs, publish
from navtalk_sweep.results import JOURNAL, Run, RunLock, load_run, new_run_id, read_journal, replay
from navtalk_sweep.runner import CaseFinished, Event
from navtalk_sweep.scenario import PARAMETERS, Case, ScenarioPlan, load_text
from navtalk_sweep.session import Sweep, SweepPlan, SweepResult, Target, load_mock_config

#: -k takes identifiers made of word characters and ``:+-.[]\\/``; ``param=value`` is translated to this
_KEYWORD = "/{}:{}/"
_PARAM_IN_K = re.compile(r"(?<![\w(=])(" + "|".join(map(re.escape, PARAMETERS)) + r")=([\w.+\-]+)")


def translate_keyword(expression: str) -> str:
    """``-k "bbox_shift=3 and not voice=onyx"`` in words pytest's -k grammar accepts (exact values)."""
    return _PARAM_IN_K.sub(lambda m: _KEYWORD.format(m.group(1), m.group(2)), expression)


def markers_of(case: Case) -> list[str]:
    """mode1..mode9, voice_NAME, and the scenario's tags."""
    out = [f"mode{int(case.mode)}"] if case.mode else ["contract_violation"]
    voice = case.request.get("voice")
    if isinstance(voice, str):
        out.append(f"voice_{voice}")
    return out + list(case.tags)


def register_markers(config: pytest.Config) -> None:
    for mode in Mode:
        config.addinivalue_line("markers", f"mode{mode.value}: a scenario case of mode {mode.value} ({mode.label})")
    for voice in VOICES:
        config.addinivalue_line("markers", f"voice_{voice}: a scenario case spoken by {voice}")
    config.addinivalue_line("markers", "contract_violation: a scenario case that fits none of the nine modes")


class CaseFailed(Exception):
    """A case did not pass; the message is the whole story of the case."""


class ScenarioFile(pytest.File):
    """A scenario file: one item per case of each of its scenarios."""

    def collect(self) -> Iterable[CaseItem | SearchItem]:
        try:
            shown = str(self.path.relative_to(self.config.rootpath))
        except ValueError:
            shown = str(self.path)
        try:
            loaded = load_text(self.path.read_text(encoding="utf-8"), shown, base=self.path.parent)
        except (OSError, UnicodeDecodeError) as exc:
            raise self.CollectError(f"{shown}: cannot read: {exc}") from None
        except ScenarioError as exc:
            raise self.CollectError(str(exc)) from None
        seen: dict[str, int] = {}
        known = set(self.config.getini("markers"))
        for plan in loaded.plans:
            if plan.search is not None:  # one item: it passes when the best setting the search found does
                yield SearchItem.from_parent(self, name=plan.name if len(loaded.plans) == 1 else f"{plan.name}: search",
                                             plan=plan)
            for case in plan:
                name = case.label if len(loaded.plans) == 1 else f"{plan.name}: {case.label}"
                seen[name] = seen.get(name, 0) + 1
                if seen[name] > 1:  # identical labels (an include repeating a grid case): keep ids unique
                    name = f"{name} #{seen[name]}"
                item = CaseItem.from_parent(self, name=name, case=case)
                for marker in markers_of(case):
                    if not any(m.split(":")[0] == marker for m in known):
                        self.config.addinivalue_line("markers", f"{marker}: scenario tag")
                        known.add(marker)
                    item.add_marker(marker)
                yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, self.CollectError):
            return str(excinfo.value.args[0])
        return str(super().repr_failure(excinfo))  # pragma: no cover (pytest's own errors)


class _SweepItem(pytest.Item):
    """An item judged on the session's sweep: its failure is the story of the case, not a traceback."""

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed | NavTalkSweepError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


class CaseItem(_SweepItem):
    """One case of a scenario; runs when the session's sweep has its record."""

    def __init__(self, *, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case
        self.extra_keyword_matches.update(_KEYWORD.format(k, v) for k, v in case.params.items())
        # what the label shows is selectable too: a text's own voice, controls set by defaults
        sent = {k: v for k, v in case.request.items() if k in PARAMETERS}
        self.extra_keyword_matches.update(_KEYWORD.format(k, v) for k, v in sent.items())
        self.user_properties += [("case_id", case.case_id), ("mode", int(case.mode) if case.mode else None),
                                 *((k, v) for k, v in case.params.items())]

    def runtest(self) -> None:
        sweeps: SessionSweep | None = self.config.stash.get(SESSION_SWEEP, None)
        if sweeps is None:
            raise CaseFailed(f"the navtalk sweep did not start: {self.config.stash.get(NOT_STARTED, 'see the error above')}")
        record = sweeps.wait_for(self)
        self.user_properties.append(("task_id", record.task_id))
        if record.outcome is Outcome.PASSED:
            return
        if record.outcome is Outcome.SKIPPED:
            pytest.skip(record.error or "skipped")
        raise CaseFailed(describe(record))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.case.scenario}: {self.case.label}"


class SearchItem(_SweepItem):
    """A scenario's search: passes when the best setting each study found meets the scenario's ``expect``."""

    def __init__(self, *, plan: ScenarioPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan

    def runtest(self) -> None:
        sweeps: SessionSweep | None = self.config.stash.get(SESSION_SWEEP, None)
        if sweeps is None:
            raise CaseFailed(f"the navtalk sweep did not start: {self.config.stash.get(NOT_STARTED, 'see the error above')}")
        run = sweeps.wait_for_search(self)
        by_key = {r.key: r for r in run.records}
        studies = [s for s in run.searches if s.get("scenario") == self.plan.name]
        if not studies:
            raise CaseFailed(f"{self.plan.name}: the search left no study (the run stopped before it began?)")
        problems = []
        for study in studies:
            best = study.get("best")
            if not best:
                problems.append(f"{study.get('study')}: no trial finished with a value "
                                f"({len(study.get('trials', []))} trial(s))")
                continue
            setting = " ".join(f"{k}={v}" for k, v in best.get("params", {}).items())
            self.user_properties.append((f"best {study.get('study')}", f"{setting}: {best.get('value')}"))
            for key in best.get("keys", []):
                rec = by_key.get(key)
                if rec is None:
                    problems.append(f"{study.get('study')}: the best trial's record {key} is missing")
                elif rec.outcome is not Outcome.PASSED:
                    problems.append(f"best of {study.get('study')} ({setting}, trial {best.get('number')}):\n"
                                    + describe(rec))
        if problems:
            raise CaseFailed("\n".join(problems))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.plan.name}: search"


def describe(record: CaseRecord) -> str:
    """A failed case for a person: the request (licence masked), status history, error and the failed checks."""
    history = " -> ".join(f"{h.get('t')} s {h.get('status')}" for h in record.status_history) or "never polled"
    lines = [f"{record.label}: {record.outcome}",
             f"  request: {json.dumps(dict(record.request), ensure_ascii=False)}",
             f"  status:  {history}"]
    if record.error:
        lines.append(f"  error:   {one_line(record.error)}")
    lines += [f"  check {c.check}: {c.detail}" for c in record.checks if not c.ok]
    lines.append(f"  case {record.case_id}, task {record.task_id or 'none'}")
    return "\n".join(lines)


# -- the session's sweep -----------------------------------------------------------------------


def _worker(config: pytest.Config) -> tuple[str, int, int] | None:
    """(id, index, count) in a pytest-xdist worker, else None."""
    info = getattr(config, "workerinput", None)
    if not info:
        return None
    wid = str(info["workerid"])
    return wid, int(wid.removeprefix("gw")), int(info["workercount"])


def run_dir_of(config: pytest.Config) -> Path:
    """--navtalk-run-dir, or the one the xdist controller chose, or ``reports/<new run id>``."""
    given = config.getoption("navtalk_run_dir")
    info = getattr(config, "workerinput", None)
    if info and info.get("navtalk_run_dir"):
        return Path(info["navtalk_run_dir"])
    if given:
        return Path(given)
    chosen = config.stash.get(RUN_DIR, None)
    if chosen is None:
        chosen = Path(config.rootpath) / "reports" / new_run_id()
        config.stash[RUN_DIR] = chosen
    return chosen


class SessionSweep:
    """The session's one sweep, in a background thread, and the records it has finished."""

    def __init__(self, config: pytest.Config, items: list[CaseItem], searches: Sequence[SearchItem] = ()) -> None:
        self.config = config
        self.items = items
        self.worker = _worker(config)
        base = run_dir_of(config)
        self.run_dir = base / self.worker[0] if self.worker else base
        self.owner: dict[str, Path] = {}  # case_id (a search: its scenario) -> run dir of the worker that runs it
        mine, my_searches = items, list(searches)
        if self.worker is not None:
            count = self.worker[2]
            for i, it in enumerate(items):  # identical requests go to one worker: each is paid for once
                self.owner.setdefault(it.case.case_id, base / f"gw{i % count}")
            for i, search in enumerate(searches):
                self.owner[f"search:{search.plan.name}"] = base / f"gw{i % count}"
            mine = [it for it in items if self.owner[it.case.case_id] == self.run_dir]
            my_searches = [s for s in searches if self.owner[f"search:{s.plan.name}"] == self.run_dir]
        # one event per waited-for case: a record wakes only the test waiting for it
        self._guard = threading.Lock()
        self._events: dict[tuple[str, str, str], threading.Event] = {}
        self._records: dict[tuple[str, str, str], CaseRecord] = {}
        self._finished = False
        self.error: Exception | None = None
        self.result: SweepResult | None = None
        mock_config = config.getoption("navtalk_mock_config")
        # the mock unless told otherwise: a test run never pays because NAVTALK_* happen to be set
        target = Target.parse(config.getoption("navtalk_target") or "mock",
                              clock=config.getoption("navtalk_mock_clock"),
                              mock_config=load_mock_config(mock_config) if mock_config else None)
        values = read_options(config.getoption, PYTEST_PREFIX)
        # a mock on the real clock is usually told to be quick: do not wait the vendor's 5 s first
        if not target.paid and target.clock == "real" and values["first_poll"] == option_default("first_poll"):
            values["first_poll"] = 0.5
        self.paid_at_most = self._paid_at_most(target, items, searches, values["max_tasks"])
        if self.worker is not None and values["max_tasks"] is not None:  # the budget is the session's, shared
            index, count = self.worker[1], self.worker[2]
            values["max_tasks"] = values["max_tasks"] // count + (index < values["max_tasks"] % count)
        confirm_paid(self.paid_at_most, target, values, PYTEST_PREFIX)
        plan = SweepPlan(tuple(it.case for it in mine), searches=tuple(s.plan for s in my_searches))
        self.sweep = Sweep(plan, self.run_dir, target=target, options=run_options(values),
                           baseline=None if self.worker else config.getoption("navtalk_baseline"),
                           request_timeout=values["request_timeout"], on_event=self._event)
        self._lock = RunLock(self.run_dir)
        self._thread = threading.Thread(target=self._run, name="navtalk-sweep", daemon=True)

    @staticmethod
    def _paid_at_most(target: Target, items: Sequence[CaseItem], searches: Sequence[SearchItem],
                      budget: int | None) -> int:
        """Tasks the whole session (every worker) may pay for: one per distinct request, a search's most."""
        if not target.paid:
            return 0
        count = len({it.case.case_id for it in items}) + sum(s.plan.searched_most() for s in searches)
        return min(count, budget) if budget is not None else count

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()  # here, in the main thread: a busy directory stops the session at once
        self._thread.start()

    def _run(self) -> None:
        try:
            self.result = self.sweep.run(lock=False)
        except Exception as exc:  # noqa: BLE001 (reported by every waiting item, never lost in a thread)
            self.error = exc
        finally:
            self._lock.release()
            with self._guard:
                self._finished = True
                waiting = list(self._events.values())
            for ready in waiting:
                ready.set()

    def _ready(self, key: tuple[str, str, str]) -> threading.Event:
        with self._guard:
            ready = self._events.get(key)
            if ready is None:
                ready = self._events[key] = threading.Event()
                if self._finished or key in self._records:
                    ready.set()
            return ready

    def _event(self, event: Event) -> None:
        if isinstance(event, CaseFinished) and event.final:
            for rec in event.records:
                key = (rec.case_id, rec.scenario, rec.label)
                with self._guard:
                    self._records[key] = rec
                    ready = self._events.get(key)
                if ready is not None:
                    ready.set()

    def stop(self, reason: str) -> None:
        self.sweep.stop(reason)

    def finish(self) -> SweepResult | None:
        self._thread.join()
        return self.result

    def wait_for(self, item: CaseItem) -> CaseRecord:
        case = item.case
        key = (case.case_id, case.scenario, case.label)
        owner = self.owner.get(case.case_id)
        if owner is not None and owner != self.run_dir:
            return _wait_in_other_worker(owner, key)
        self._ready(key).wait()
        with self._guard:
            if key in self._records:
                return self._records[key]
        if self.error is not None:
            raise CaseFailed(f"the navtalk sweep failed: {self.error}")
        # not final (the run stopped before the case could end): the stored record says why
        stored = {(r.case_id, r.scenario, r.label): r for r in (self.result.records if self.result else [])}
        if key in stored:
            return stored[key]
        raise CaseFailed(f"{case.label}: no record (the sweep ended without this case)")


    def wait_for_search(self, item: SearchItem) -> Run:
        """The run that holds this search, once its sweep has ended (a search is judged on what it found)."""
        owner = self.owner.get(f"search:{item.plan.name}", self.run_dir)
        if owner == self.run_dir:
            self.finish()
            if self.error is not None:
                raise CaseFailed(f"the navtalk sweep failed: {self.error}")
        else:
            while not _idle(owner):
                time.sleep(0.05)
        return load_run(owner)


def _wait_in_other_worker(run_dir: Path, key: tuple[str, str, str]) -> CaseRecord:
    """A case another xdist worker sweeps: read its journal until the record is there or the worker is gone."""
    journal = run_dir / JOURNAL
    while True:
        if journal.exists():
            for rec in _records(read_journal(journal)):
                if (rec.case_id, rec.scenario, rec.label) == key:
                    return rec
        if _idle(run_dir):
            for rec in _records(read_journal(journal)):
                if (rec.case_id, rec.scenario, rec.label) == key:
                    return rec
            raise CaseFailed(f"{key[2]}: the worker sweeping it ({run_dir.name}) ended without its record")
        time.sleep(0.05)


def _records(events: Iterator[Event]) -> list[CaseRecord]:
    return [r for recs in replay(events).records.values() for r in recs]


def _idle(run_dir: Path) -> bool:
    """True when no process holds the directory's lock (its sweep has ended, or never began)."""
    if not (run_dir / "run.json").exists():
        return False  # not started yet
    try:
        with RunLock(run_dir):
            return True
    except RunError:
        return False


SESSION_SWEEP = pytest.StashKey[SessionSweep]()
NOT_STARTED = pytest.StashKey[str]()
RUN_DIR = pytest.StashKey[Path]()


def start(session: pytest.Session) -> None:
    """After collection and deselection: submit every selected case together."""
    items = [it for it in session.items if isinstance(it, CaseItem)]
    searches = [it for it in session.items if isinstance(it, SearchItem)]
    if not (items or searches) or session.config.option.collectonly:
        return
    try:
        sweeps = SessionSweep(session.config, items, searches)
        sweeps.start()
    except NavTalkSweepError as exc:  # a busy run directory, a bad target or mock config, an unconfirmed payment
        if _worker(session.config) is None:
            pytest.exit(f"error: {exc}", returncode=2)
        # an xdist worker's exit is a crash the controller restarts: each of its items says why instead
        session.config.stash[NOT_STARTED] = f"error: {exc}"
        return
    session.config.stash[SESSION_SWEEP] = sweeps


def finish(session: pytest.Session, exitstatus: int) -> None:
    sweeps = session.config.stash.get(SESSION_SWEEP, None)
    if sweeps is None:
        return
    # -x, --maxfail, Ctrl-C or an internal error: stop submitting; failed tests alone are no reason to
    interrupted = exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)
    if interrupted or session.shouldstop or session.shouldfail:
        sweeps.stop("the pytest session stopped")
    result = sweeps.finish()
    if result is not None and result.regressions and not sweeps.worker:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def merge_workers(config: pytest.Config) -> Path | None:
    """On the xdist controller: the workers' run directories as one run, one report."""
    base = run_dir_of(config)
    parts = sorted(p for p in base.glob("gw*") if (p / "run.json").exists())
    if not parts:
        return None
    merge_runs([str(p) for p in parts], base)
    comparison = publish(base, config.getoption("navtalk_baseline"))
    config.stash[COMPARISON] = comparison
    return base


COMPARISON = pytest.StashKey[Any]()


def summary_lines(config: pytest.Config) -> list[str]:
    """The runner's summary line and where the run is, for the terminal summary."""
    sweeps = config.stash.get(SESSION_SWEEP, None)
    if sweeps is not None and sweeps.result is not None:
        result = sweeps.result
        lines = [f"navtalk-sweep: {result.summary_line()}"]
        if result.stop_reason:
            lines.append(f"navtalk-sweep: run stopped: {result.stop_reason}")
        if result.comparison is not None:
            lines.append(format_comparison(result.comparison, "text"))
        lines.append(f"navtalk-sweep: report {result.run_dir / 'report.html'}")
        return lines
    merged = config.stash.get(MERGED, None)
    if merged is not None:
        run = load_run(merged)
        counts: dict[str, int] = {}
        for rec in run.records:
            counts[rec.outcome.value] = counts.get(rec.outcome.value, 0) + 1
        shown = ", ".join(f"{n} {o}" for o, n in sorted(counts.items()))
        lines = [f"navtalk-sweep: {len(run.records)} case(s): {shown} (merged from the workers)"]
        comparison = config.stash.get(COMPARISON, None)
        if comparison is not None:
            lines.append(format_comparison(comparison, "text"))
        lines.append(f"navtalk-sweep: report {merged / 'report.html'}")
        return lines
    return []


MERGED = pytest.StashKey[Path]()
