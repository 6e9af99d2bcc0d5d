"""Run a sweep: target, local media, journal, runner, downloads, results and report, composed once.

    from navtalk_sweep.session import Target, load_plan, run_sweep

    plan = load_plan(["scenarios/quickstart.yaml"])
    result = run_sweep(plan, "reports/demo", target=Target.mock())
    print(result.summary_line())          # 27 case(s): 27 passed
    assert result.ok

The command line's ``run``, the pytest plugin and users' scripts all call this module;
none of them composes a run of its own. :class:`Sweep` is the long form: it plans the
jobs first (``sweep.jobs``, to count or confirm before anything is paid for), runs them
(``sweep.run()``), and can be stopped from another thread (``sweep.stop(reason)``).
"""

from __future__ import annotations

import asyncio
import enum
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import httpx

from navtalk_sweep import analysis, search
from navtalk_sweep._fetch import Fetcher, face_url
from navtalk_sweep._measure import poster_maker
from navtalk_sweep._remeasure import face_finder, measured_again, measured_again_on_resume, revisions_of, stale
from navtalk_sweep._sweep_plan import MAX_CASES, SweepPlan, load_mock_config, load_plan
from navtalk_sweep._target import MOCK_LICENSE, MockClock, Target, TargetKind
from navtalk_sweep.cassette import CassetteWriter, redact_record
from navtalk_sweep.client import AsyncNavTalkClient, CookielessAsyncClient, RecordingTransport
from navtalk_sweep.clock import ManualClock, run_virtual
from navtalk_sweep.errors import ClientError, InvalidArgument, RunError
from navtalk_sweep.record import CaseRecord, Outcome, revisions
from navtalk_sweep.report import Comparison, LiveReport, publish
from navtalk_sweep.results import (
    META,
    Replayed,
    RunDirectory,
    RunMeta,
    in_order,
    load_run,
    new_run_id,
)
from navtalk_sweep.runner import CaseFinished, Event, Job, JobState, Runner, RunOptions, plan_jobs
from navtalk_sweep.scenario import Case

__all__ = ["MAX_CASES", "MOCK_LICENSE", "MockClock", "RunStatus", "Sweep", "SweepPlan", "SweepResult", "Target",
           "TargetKind", "load_mock_config", "load_plan", "read_meta", "resume_sweep", "run_sweep"]

class RunStatus(enum.StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    STOPPED = "stopped"  # a stop rule or a caller stopped it; skipped cases can be resumed
    INTERRUPTED = "interrupted"  # Ctrl-C or an error: what finished is saved



def read_meta(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """A run directory's ``run.json`` as JSON data; RunError when there is none to read (typed:
    ``RunDirectory(run_dir).read_meta()``)."""
    return RunDirectory(run_dir).read_meta().to_dict()


# -- the result ------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    """What a sweep left in its run directory."""

    run_dir: Path
    records: list[CaseRecord]
    status: RunStatus
    stop_reason: str | None = None
    comparison: Comparison | None = None

    @property
    def outcomes(self) -> Counter[Outcome]:
        return Counter(r.outcome for r in self.records)

    @property
    def regressions(self) -> list[dict[str, Any]]:
        return self.comparison.regressions if self.comparison is not None else []

    @property
    def ok(self) -> bool:
        """Every case passed (or was deliberately skipped by a budget), nothing stopped it, nothing regressed."""
        return not any(o.bad for o in self.outcomes) and self.stop_reason is None and not self.regressions

    def summary_line(self) -> str:
        shown = ", ".join(f"{n} {o}" for o, n in sorted(self.outcomes.items()))
        return f"{len(self.records)} case(s): {shown or 'none'}"


# -- the sweep -------------------------------------------------------------------------------------


class Sweep:
    """One run of cases into one run directory.

    ``resume=True`` continues the run in ``run_dir``: tasks already submitted are polled,
    never submitted again. ``on_event`` sees every runner event after the journal has it.
    """

    def __init__(self, cases: SweepPlan | Iterable[Case], run_dir: str | os.PathLike[str], *,
                 target: Target | None = None, options: RunOptions | None = None, resume: bool = False,
                 reuse: str | os.PathLike[str] | None = None, baseline: str | os.PathLike[str] | None = None,
                 download: bool = True, report: bool = True, request_timeout: float = 30.0, record: bool = False,
                 measure: bool | None = None, on_event: Callable[[Event], None] | None = None,
                 study_storage: str | None = None, live_every: float | None = 10.0) -> None:
        plan = cases if isinstance(cases, SweepPlan) else SweepPlan(tuple(cases))
        if not all(isinstance(c, Case) for c in plan.cases):
            raise InvalidArgument("cases must be navtalk_sweep.scenario.Case objects (see load_plan)")
        self.plan = plan
        self.dir = RunDirectory(run_dir)
        self.run_dir = self.dir.path
        self.options = options or RunOptions()
        self.resume = resume
        self._saved: RunMeta | None = self.dir.read_meta() if resume else None
        self._planned: dict[str, Case] | None = None  # the planned cases by id (_case_of)
        self.target = target or Target.parse(None, saved=self._saved.target if self._saved else None,
                                             seed=self.options.seed)
        if self.target.kind is TargetKind.URL and not self.target.license:
            raise InvalidArgument("no licence for a NavTalk URL target: set NAVTALK_LICENSE or pass license=")
        self.reuse, self.baseline = reuse, baseline
        self.download, self.report, self.request_timeout = download, report, request_timeout
        self.record = record
        #: measure downloaded videos (lip sync, mouth, frozen...): by default when the face extra is installed
        self.measure = analysis.available() if measure is None else measure
        if self.measure and not analysis.available():
            raise InvalidArgument("measuring videos needs the face extra: pip install 'navtalk-sweep[face]'")
        self.on_event = on_event
        self.jobs: list[Job] = plan_jobs(plan.cases, self.options.repeat)
        search.require(plan.searches)
        self.study_storage = study_storage if study_storage is not None else \
            (self._saved.study_storage if self._saved else None)
        #: report.html is rewritten from the journal at most this often (wall seconds) while cases finish,
        #: so a long run can be watched (``navtalk-sweep serve``); None: only at the end
        self.live_every = live_every
        self.sources: list[search.StudySource] = []
        #: every job's case by key: the plan's, and a search's as it asks them
        self._cases: dict[str, Case] = {job.key: job.case for job in self.jobs}
        self._runner: Runner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending_stop: str | None = None
        self._lock = threading.Lock()
        self.service: Any = None  # the in-process mock service, for a mock target

    @classmethod
    def resuming(cls, run_dir: str | os.PathLike[str], **settings: Any) -> Sweep:
        """The sweep that continues ``run_dir`` as it was started: its scenario files and shard, run options,
        target (the bundled mock with its clock, seed and settings) and study storage, from ``run.json``.
        ``settings`` override any of them as for :class:`Sweep` (a licence for a paid target, say)."""
        meta = RunDirectory(run_dir).read_meta()
        if not meta.scenario_files:
            raise RunError(f"{run_dir}: cannot resume: {META} names no scenario file")
        plan = load_plan(meta.scenario_files, shard=meta.shard, max_cases=None)
        known = {f.name for f in fields(RunOptions)}
        saved = {k: v for k, v in meta.options.items() if k in known}
        settings.setdefault("options", RunOptions(**saved))
        return cls(plan, run_dir, resume=True, **settings)

    # -- control from outside --------------------------------------------------------------

    def stop(self, reason: str) -> None:
        """Stop submitting; cases in flight end as ``skipped`` (resumable). Safe from any thread."""
        with self._lock:
            runner, loop = self._runner, self._loop
            if runner is None or loop is None:
                self._pending_stop = self._pending_stop or reason
                return
        loop.call_soon_threadsafe(runner.stop, reason)

    # -- the run ---------------------------------------------------------------------------

    def run(self, *, lock: bool = True) -> SweepResult:
        """Run every job (blocking); results.jsonl, run.json, report.html and junit.xml are written even
        when interrupted. ``lock=False``: the caller already holds the directory's :class:`RunLock`."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if not lock:
            return self._run_locked()
        with self.dir.lock():  # before the journal is read: nobody else may be writing it
            return self._run_locked()

    def to_send(self) -> int:
        """Submits this run may pay for: jobs with no task yet (on resume, as the journal tells; a submit
        that may have left is not counted, it is not sent again), at most the ``max_tasks`` budget."""
        states = self._journal_states()
        count = 0
        for job in self.jobs:
            state = states.get(job.key)
            count += state is None or not (state.finished or state.submitting or state.task_id)
        count += sum(plan.searched_most() for plan in self.plan.searches)  # at most, less what a resume did
        count -= self._searched_jobs(states)
        budget = self.options.max_tasks
        return min(count, budget) if budget is not None else count

    def _searched_jobs(self, states: Mapping[str, JobState]) -> int:
        """Search jobs a resumed run has already sent (they count against the search's maximum)."""
        grid = {job.key for job in self.jobs}
        return sum(1 for key, state in states.items() if key not in grid and (state.task_id or state.finished))

    def _journal_states(self) -> dict[str, JobState]:
        """Each job's state as the journal tells it, when resuming (nothing otherwise)."""
        return self._resumed()[0].states

    def _resumed(self) -> tuple[Replayed, int]:
        """The journal replayed when resuming (empty otherwise), and how many jobs start over.

        The in-process mock's tasks end with the process that ran it: a case it had in flight
        cannot be polled again, so it starts over (the mock costs nothing; a paid target's
        in-flight tasks are always polled, never sent again).
        """
        if not self.resume:
            return Replayed(), 0
        replayed = self.dir.replayed()
        again = 0
        if self.target.kind is TargetKind.MOCK:
            for key, state in replayed.states.items():
                if not state.finished and (state.task_id or state.submitting):
                    replayed.states[key] = JobState()
                    again += 1
        return replayed, again

    def notices(self) -> list[str]:
        """What a resume or a reuse does that a person should know before it starts (one line each, its subject
        first)."""
        out = []
        again = self._resumed()[1]
        if again:
            out.append(f"resume: {again} case(s) were in flight on the bundled mock, whose tasks ended with the process "
                       "that ran them: they are sent again (the mock costs nothing)")
        if resumed := self._resumed_stale():
            out.append(f"resume: this run measured {', '.join(resumed)} by an earlier definition: its videos are "
                       "measured again, and judged again, before it goes on (CPU only, no request)")
        if reused := self._reused_stale():
            out.append(f"reuse: {self.reuse} measured {', '.join(reused)} by an earlier definition: its videos are "
                       "measured again before the run (CPU only, no request)")
        return out

    def _reused_stale(self) -> tuple[str, ...]:
        """The measures the ``reuse`` run computed otherwise than this code (none when not measuring)."""
        return stale(revisions_of(self.reuse)) if self.reuse and self.measure else ()

    def _run_locked(self) -> SweepResult:
        reuse = self._reuse_map()  # a bad --reuse directory stops here, before the run directory is touched
        replayed = self._resumed()[0]  # under the lock: the journal as it is now, read once
        states = replayed.states
        for job in self.jobs:
            if job.key in states:
                job.state = states[job.key]
        changed = self._resumed_stale()
        measured = measured_again_on_resume(replayed, changed, self._case_of, self.run_dir) if changed else {}
        replayed.records.update(measured)
        self.sources = self._open_studies(replayed)
        meta = self._start_meta()
        if changed:  # run.json names this code's revisions once the records measured again are in the journal
            self.dir.write_meta(replace(meta, measures=self._saved.measures if self._saved else {}))
        else:
            self.dir.write_meta(meta)
        journal = self.dir.open_journal()
        for key, records in measured.items():
            journal(CaseFinished(time.time(), key, records))
        if changed:
            self.dir.write_meta(meta)

        live = LiveReport(self.run_dir, every=self.live_every, earlier=replayed.records) \
            if self.report and self.live_every is not None else None

        def emit(event: Event) -> None:
            if self.record and isinstance(event, CaseFinished):
                # a recording is meant to be committed: no signed URL anywhere in it (issue 20, item 13)
                event = replace(event, records=[redact_record(r, [self.target.license]) for r in event.records])
            journal(event)
            if live is not None and isinstance(event, CaseFinished):
                live.finished(event.key, event.records)
            if self.on_event is not None:
                self.on_event(event)

        runner: Runner | None = None
        status = RunStatus.INTERRUPTED
        try:
            clock = ManualClock() if self.target.kind is TargetKind.MOCK and \
                self.target.clock is MockClock.VIRTUAL else None
            coro = self._execute(emit, reuse, clock)
            runner = run_virtual(coro, clock) if clock is not None else asyncio.run(coro)
            status = RunStatus.STOPPED if runner.stop_reason else RunStatus.FINISHED
        finally:
            # interrupted or not, what finished is written out: no result is lost
            journal.close()
            live = None  # its references to every record: the journal's are read next
            if self.service is not None:  # its tasks ended with the run (see _resumed)
                self.service.simulator.forget_tasks()
            keys = [j.key for j in self.jobs] + [k for source in self.sources for t in source.mine()
                                                 if source.complete(t.params) for k in source.keys(t.params)]
            records = in_order(self.dir.finished_records(), dict.fromkeys(keys))
            records = self._adopt_videos(records)
            if self.measure:
                records = self._attach_posters(records)
            self.dir.write_results(records)
            meta.status, meta.stop_reason = status.value, runner.stop_reason if runner else None
            meta.finished_at, meta.outcomes = _now_text(), dict(Counter(r.outcome.value for r in records))
            if self.service is not None:
                meta.mock_calls = dict(self.service.simulator.calls)
            self.dir.write_meta(meta)
            if self.sources:
                self.dir.write_search([source.summary() for source in self.sources])
        comparison = publish(self.run_dir, self.baseline, records=records) if self.report else None
        return SweepResult(self.run_dir, records, status, runner.stop_reason, comparison)

    def _start_meta(self) -> RunMeta:
        saved = self._saved or RunMeta(self.run_dir.name)
        return replace(
            saved, run_id=saved.run_id or self.run_dir.name,
            scenario_files=list(self.plan.files) or saved.scenario_files,
            scenarios=list(self.plan.scenarios) or saved.scenarios, shard=self.plan.shard,
            target=self.target.describe(), started_at=saved.started_at or _now_text(),
            status=RunStatus.RUNNING.value, options=asdict(self.options), recorded=self.record or saved.recorded,
            resumed=saved.resumed + (1 if self.resume else 0),
            choose=dict(self.plan.objectives) or saved.choose,
            tolerances=dict(self.plan.tolerances) or saved.tolerances,
            # not measuring, a run's values are those it resumes or reuses: named by the revisions they came by
            measures=revisions() if self.measure else saved.measures if self._saved else revisions_of(self.reuse),
            study_storage=search.storage_label(self.study_storage) if self.plan.searches else saved.study_storage)

    def _open_studies(self, replayed: Replayed) -> list[search.StudySource]:
        """One study per face x speech x voice of each search scenario, continued when it exists."""
        if not self.plan.searches:
            return []
        storage = search.open_storage(self.study_storage, self.run_dir, owned=True)  # under the RunLock
        run_id = (self._saved.run_id if self._saved else "") or self.run_dir.name

        def on_job(job: Job) -> None:
            self._cases[job.key] = job.case

        return [search.StudySource(plan, combo, storage, run_id=run_id, states=replayed.states,
                                   records=replayed.records, on_job=on_job,
                                   own_storage=self.study_storage is None)
                for plan in self.plan.searches for combo in plan.combinations()]

    async def _execute(self, emit: Callable[[Event], None], reuse: Mapping[str, CaseRecord],
                       clock: ManualClock | None) -> Runner:
        transport: httpx.AsyncBaseTransport | None = None
        if self.target.kind is TargetKind.MOCK:
            from mock_server import MockTransport, create_service
            from navtalk_sweep.simulator import Cassette

            cassette = Cassette.load(self.target.replay) if self.target.replay else None
            self.service = create_service(seed=self.target.seed, config=self.target.mock_config, clock=clock,
                                          replay=cassette)
            transport = MockTransport(self.service)
        limits = httpx.Limits(max_connections=max(10, self.options.concurrency * 2))
        now = asyncio.get_running_loop().time if clock is not None else time.time
        writer: CassetteWriter | None = None
        if self.record:  # every exchange into cassette.jsonl, redacted as it is written
            writer = CassetteWriter(self.run_dir, [self.target.license])
            transport = RecordingTransport(transport or httpx.AsyncHTTPTransport(limits=limits), writer, now,
                                           self.target.license)
        try:
            return await self._with_client(transport, limits, emit, reuse, now)
        finally:
            if writer is not None:
                writer.close()

    async def _with_client(self, transport: httpx.AsyncBaseTransport | None, limits: httpx.Limits,
                           emit: Callable[[Event], None], reuse: Mapping[str, CaseRecord],
                           now: Callable[[], float]) -> Runner:
        async with CookielessAsyncClient(transport=transport, limits=limits,
                                         timeout=httpx.Timeout(self.request_timeout)) as http:
            client = AsyncNavTalkClient(self.target.endpoint, http)
            media_url = await self._prepare_media(client)
            fetch = Fetcher(client, self.dir, self._cases, measure=self.measure) if self.download else None
            runner = Runner(client, self.options, emit, now=now, media_url=media_url, fetch=fetch, reuse=reuse)
            with self._lock:
                self._runner, self._loop = runner, asyncio.get_running_loop()
                if self._pending_stop is not None:
                    runner.stop(self._pending_stop)
            try:
                await runner.run(self.jobs, self.sources)
            finally:
                with self._lock:
                    self._loop = None
            return runner

    async def _prepare_media(self, client: AsyncNavTalkClient) -> Callable[[str, str], str]:
        """Hand every local file to the target before any submit; returns how a token becomes a URL.

        The in-process mock takes them directly, ``navtalk-sweep mock`` by upload; a target that
        cannot take them stops the run here, before anything is paid for.
        """
        base = self.target.generate_url.rsplit("/", 1)[0]
        urls: dict[str, str] = {}
        searched = [plan.case(combo) for plan in self.plan.searches for combo in plan.combinations()]
        for case in [job.case for job in self.jobs] + searched:
            for token, path in case.files.items():
                if token in urls:
                    continue
                name = token.removeprefix("media://")
                data = Path(path).read_bytes()
                if self.service is not None:
                    self.service.uploads[name] = data
                else:
                    try:
                        await client.upload(f"{base}/__admin/media/{name}", data)
                    except ClientError as exc:
                        raise RunError(f"{path}: the target cannot take local files ({exc}); give the face "
                                       "as a video_url or image_url instead") from None
                urls[token] = f"{base}/media/{name}"
        return lambda token, path: urls[token]

    def _reuse_map(self) -> dict[str, CaseRecord]:
        """Done records of an earlier run by case id, whole, their videos by absolute path until adopted."""
        if not self.reuse:
            return {}
        run = load_run(self.reuse)
        run_id = str(run.meta.get("run_id") or run.path)
        out = {}
        for rec in run.records:
            if rec.done and rec.outcome is not Outcome.SKIPPED:
                video = rec.video
                if video and (run.path / video).is_file():
                    video = str((run.path / video).resolve())
                out[rec.case_id] = rec.replace(video=video, reused_from=rec.reused_from or run_id)
        changed = self._reused_stale()
        if changed:  # measured by an earlier definition: not mixed with this run's (the runner judges them anew)
            out = measured_again(out, changed, face_finder(self._case_of, run.path), f"run {run_id}")
        return out

    def _case_of(self, rec: CaseRecord) -> Case | None:
        """The case a record was made for: its job's, a planned one by its id, or a search's rebuilt from its
        parameters (None when this run's scenarios no longer make it)."""
        if self._planned is None:
            self._planned = {case.case_id: case for job in self.jobs for case in job.cases}
        case = self._cases.get(rec.key) or self._planned.get(rec.case_id)
        if case is None:
            plan = next((p for p in self.plan.searches if p.name == rec.scenario), None)
            try:
                case = plan.case(rec.params) if plan is not None else None
            except (KeyError, ValueError):  # parameters this plan no longer has
                return None
        return case if case is not None and case.case_id == rec.case_id else None

    def _resumed_stale(self) -> tuple[str, ...]:
        """The measures the run being resumed computed otherwise than this code (none when not measuring)."""
        return stale(self._saved.measures) if self.resume and self.measure and self._saved is not None else ()

    def _attach_posters(self, records: list[CaseRecord]) -> list[CaseRecord]:
        """Each case whose face is a local file gets a preview of its controls (the report's poster)."""
        poster = poster_maker(self.run_dir)
        out = []
        for rec in records:
            case = self._case_of(rec)
            local = case.files.get(face_url(case) or "") if case is not None else None
            made = poster(local, case.request) if case is not None and local is not None else None
            out.append(rec.replace(images={**rec.images, "poster": made}) if made else rec)
        return out

    def _adopt_videos(self, records: list[CaseRecord]) -> list[CaseRecord]:
        """Copy reused videos into this run, so a run directory stands on its own."""
        out = []
        for rec in records:
            video = rec.video
            if video and Path(video).is_absolute() and Path(video).is_file():
                rec = rec.replace(video=f"videos/{self.dir.store_video(Path(video)).name}")
            out.append(rec)
        return out


def _now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def resume_sweep(run_dir: str | os.PathLike[str], **settings: Any) -> SweepResult:
    """Continue the run in ``run_dir`` where it stopped, as it was started (see :meth:`Sweep.resuming`)."""
    return Sweep.resuming(run_dir, **settings).run()


def run_sweep(cases: SweepPlan | Iterable[Case], run_dir: str | os.PathLike[str] | None = None,
              **settings: Any) -> SweepResult:
    """Run ``cases`` into ``run_dir`` (default ``reports/<new run id>``); settings as for :class:`Sweep`."""
    return Sweep(cases, run_dir if run_dir is not None else Path("reports") / new_run_id(), **settings).run()

