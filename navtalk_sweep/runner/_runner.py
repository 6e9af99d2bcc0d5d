"""Executing cases: concurrency, rate limits, polling, retries, timeouts, budget, dedupe, resume.

The runner emits events and never prints or writes files. A failed case is data (a
record with an outcome), not an exception. A submit is retried only when it surely
created no task (connection refused, HTTP 429); otherwise the case is "submit unknown".
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from navtalk_sweep.client import AsyncNavTalkClient, TaskStatus
from navtalk_sweep.contract import TERMINAL_STATUSES, redact_request, request_id
from navtalk_sweep.errors import (
    ClientError,
    LicenseRejected,
    MalformedResponse,
    NavTalkSweepError,
    RateLimited,
    ServiceError,
    TransportError,
)
from navtalk_sweep.record import CaseRecord, Outcome
from navtalk_sweep.runner._events import (
    CaseFinished,
    CaseSubmitted,
    Event,
    PollFailed,
    RunFinished,
    RunStarted,
    RunStopped,
    StatusObserved,
    SubmitRetried,
    SubmitStarted,
)
from navtalk_sweep.runner._expect import evaluate
from navtalk_sweep.runner._schedule import PollSchedule
from navtalk_sweep.runner._source import JobSource, PlanSource
from navtalk_sweep.runner._state import Job, advance
from navtalk_sweep.scenario import Case

Emit = Callable[[Event], None]
#: turns a done task's video into record fields (downloads it, probes it); injected by the session
Fetcher = Callable[[str, str], Awaitable[Mapping[str, Any]]]
MediaUrl = Callable[[str, str], str]


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8  # tasks in flight, from submit to final status
    submit_rate: float = 5.0  # submits per second at most
    case_timeout: float = 600.0  # the most a case may take, from submit to final status
    #: once durations are learned, a case also gives up after max(factor x the 95th percentile of similar
    #: tasks, that + margin), so a stuck task stops holding a slot; None: only case_timeout
    deadline_factor: float | None = 3.0
    deadline_margin: float = 10.0
    max_tasks: int | None = None
    max_speech_seconds: float | None = None
    fail_fast: bool = False
    max_failures: int | None = None
    identical_errors: int = 5  # this many identical service errors in a row stop the run
    resubmit_unknown: bool = False
    submit_retries: int = 4  # after refused connections
    rate_limit_retries: int = 50  # after HTTP 429: no task was created, so waiting costs nothing
    rate_limit_streak: int = 2  # this many 429s with no accepted submit between halve the submit rate
    poll_retries: int = 8
    backoff_base: float = 1.0
    backoff_cap: float = 30.0
    first_poll: float = 5.0  # before any task has finished: the vendor's "5 to 20 s"
    #: where among similar tasks' durations the first poll goes (see PollSchedule); a recording meant for
    #: `calibrate` wants an early one (0.05), so that most tasks are seen unfinished before they end
    first_quantile: float = 0.65
    dense_interval: float = 1.5
    max_poll_interval: float = 10.0
    repeat: int = 1
    seed: int = 0  # jitter


class _Stop(Exception):
    pass


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Runner:
    """Runs jobs against one NavTalk endpoint and reports everything as events."""

    def __init__(self, client: AsyncNavTalkClient, options: RunOptions, emit: Emit, *,
                 now: Callable[[], float] = time.time, media_url: MediaUrl | None = None,
                 fetch: Fetcher | None = None, reuse: Mapping[str, CaseRecord] | None = None) -> None:
        self.client, self.options, self._emit = client, options, emit
        self.now = now
        self.media_url = media_url
        self.fetch = fetch
        self.reuse = reuse or {}
        self.schedule = PollSchedule(options.dense_interval, options.max_poll_interval,
                                     prior_first_poll=options.first_poll, first_quantile=options.first_quantile)
        self.stop_reason: str | None = None
        self.outcomes: Counter[str] = Counter()
        self._rng = random.Random(options.seed)
        self._failures = 0
        self._error_streak: tuple[str, int] = ("", 0)
        self._next_submit = 0.0
        self._rate = options.submit_rate  # lowered on a streak of 429s, raised again as submits succeed
        self._limit_streak = 0
        self._paid_tasks = 0
        self._paid_speech = 0.0
        self._sleepers: set[asyncio.Future[None]] = set()
        #: how each job a source gave ended (its records, final or not), until it is told back
        self._ended: dict[str, tuple[list[CaseRecord], bool] | None] = {}

    def emit(self, event: Event) -> None:
        self._emit(event)

    def _note(self, job: Job, event: Event) -> None:
        """Move the job's state by ``event`` (the one transition function resume uses too), then emit it."""
        advance(job.state, event)
        self._emit(event)

    # -- the run -------------------------------------------------------------------------

    async def run(self, jobs: Sequence[Job], sources: Sequence[JobSource] = ()) -> Counter[str]:
        """Run ``jobs`` (a plan known up front, as a :class:`PlanSource`) and whatever ``sources`` give as
        the run goes, side by side; each source is told how each of its jobs ended."""
        every = [PlanSource(jobs), *sources]
        cases_most = sum(len(j.cases) for j in jobs) + sum(s.size for s in sources)
        self.emit(RunStarted(self.now(), sum(s.size for s in every), cases_most))
        slots = asyncio.Semaphore(self.options.concurrency)

        def told(job: Job, source: JobSource) -> None:
            source.tell(job, *(self._ended.pop(job.key, None) or ([], False)))

        async def one(job: Job, source: JobSource) -> None:
            try:
                await self._job(job)
            finally:
                slots.release()
                told(job, source)

        async def feed(source: JobSource, group: asyncio.TaskGroup) -> None:
            # a job's task is made when a slot is free: a task waiting for a slot holds its coroutine and
            # frame, and one per job made up front cost a 53,200-case run about 50 MB of its peak
            async for job in source:
                self._ended[job.key] = None
                st = job.state
                if st.finished or (st.task_id is None and not st.submitting and self._reused(job)):
                    told(job, source)  # finished before a resume, or reused: no request, no slot
                    continue
                await slots.acquire()
                group.create_task(one(job, source))

        async with asyncio.TaskGroup() as group:
            for source in every:
                group.create_task(feed(source, group))
        self.emit(RunFinished(self.now(), dict(self.outcomes)))
        return self.outcomes

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason
            for wake in list(self._sleepers):
                _wake(wake)
            self.emit(RunStopped(self.now(), reason))

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when the run is stopped (and never go on after a stop)."""
        if self.stop_reason is not None:
            raise _Stop
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        # a bare future and a timer: far cheaper than wait_for(), which makes a task per sleep
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(seconds, _wake, wake)
        self._sleepers.add(wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._sleepers.discard(wake)
        if self.stop_reason is not None:
            raise _Stop

    def _backoff(self, attempt: int, hint: float | None = None) -> float:
        if hint is not None:
            return hint
        cap = min(self.options.backoff_cap, self.options.backoff_base * 2 ** attempt)
        return self._rng.uniform(cap / 2, cap)  # "equal jitter": never zero, never in lockstep

    # -- one job ---------------------------------------------------------------------------

    def _reused(self, job: Job) -> bool:
        """Take the whole record of an identical request from an earlier run, named for this job."""
        earlier = self.reuse.get(job.case.case_id)
        if earlier is None:
            return False
        records = []
        for case in job.cases:
            rec = earlier.replace(key=job.key, repeat=job.repeat, **self._identity(case),
                                  reused_from=earlier.reused_from or "earlier run")
            verdict, checks = evaluate(case.expect, rec)
            records.append(rec.replace(outcome=verdict, checks=checks))
        self._finished(job, records, final=True)
        return True

    async def _job(self, job: Job) -> None:
        st = job.state
        try:
            if self.stop_reason is not None:
                raise _Stop
            submitted_here = st.task_id is None
            if submitted_here:
                if st.submitting and not self.options.resubmit_unknown:
                    self._finish(job, unknown=True, error="submit unknown: the run stopped after sending the submit "
                                 "and before its answer; use --resubmit-unknown to pay for it again")
                    return
                if not self._within_budget(job):
                    # not final: a resume with a larger budget runs it
                    self._finish(job, outcome=Outcome.SKIPPED, final=False, error="skipped: over the run's budget")
                    return
                if not await self._submit(job):
                    return
            await self._poll(job, submitted_here=submitted_here)
        except _Stop:
            self._finish(job, outcome=Outcome.SKIPPED, final=False,
                         error=f"not finished: run stopped ({self.stop_reason})")

    def _within_budget(self, job: Job) -> bool:
        o = self.options
        if o.max_tasks is not None and self._paid_tasks >= o.max_tasks:
            return False
        if o.max_speech_seconds is not None and self._paid_speech + job.case.speech_seconds > o.max_speech_seconds:
            return False
        self._paid_tasks += 1
        self._paid_speech += job.case.speech_seconds
        return True

    async def _rate_limit(self) -> None:
        if self._rate <= 0:
            return
        now = self.now()
        slot = max(now, self._next_submit)
        self._next_submit = slot + 1.0 / self._rate
        await self._sleep(slot - now)

    def _rate_limited(self, retry_after: float | None, limited: int) -> float:
        """A 429 on a submit: how long this job waits before trying again.

        A ``Retry-After`` is the service speaking for every client: every submit waits it
        out. The rate halves only on a streak (``rate_limit_streak`` 429s with no accepted
        submit between): one stray 429 among many accepted submits is a blip, not a limit.
        Additive increase on accepted submits brings the rate back.
        """
        self._limit_streak += 1
        if self._limit_streak >= self.options.rate_limit_streak:
            self._limit_streak = 0
            self._rate = max(0.1, (self._rate or self.options.submit_rate or 1.0) / 2)
        if retry_after is not None:
            self._next_submit = max(self._next_submit, self.now() + retry_after)
            return retry_after
        return self._backoff(limited)

    def _speed_up(self) -> None:
        self._limit_streak = 0
        if self.options.submit_rate > 0:
            self._rate = min(self.options.submit_rate, self._rate + 0.1)

    async def _submit(self, job: Job) -> bool:
        """Submit until a task id, a final answer, or an unknown; True when there is a task."""
        try:
            body = job.case.body(self.client.endpoint.license, self.media_url)
        except (ValueError, OSError, NavTalkSweepError) as exc:
            self._finish(job, outcome=Outcome.ERROR, error=f"cannot build the request: {exc}")
            return False
        attempt = limited = 0
        while attempt <= self.options.submit_retries and limited <= self.options.rate_limit_retries:
            attempt += 1
            await self._rate_limit()
            self._note(job, SubmitStarted(self.now(), job.key, attempt))
            sent_at = self.now()
            try:
                submitted = await self.client.submit(body)
            except RateLimited as exc:
                attempt -= 1  # a 429 is not a failed attempt: the service asked us to wait
                limited += 1
                wait = self._rate_limited(exc.retry_after, limited)
                self._note(job, SubmitRetried(self.now(), job.key, str(exc), wait))
                if exc.retry_after is None:
                    await self._sleep(wait)  # this job backs off; the others go on at the (maybe lower) rate
                continue
            except TransportError as exc:
                self._note_error(str(exc))  # a dead server: every job sees the same refusal
                if exc.sent:
                    self._finish(job, unknown=True, error=f"submit unknown: {exc}")
                    return False
                wait = self._backoff(attempt)
                self._note(job, SubmitRetried(self.now(), job.key, str(exc), wait))
                await self._sleep(wait)
                continue
            except LicenseRejected as exc:
                # no task was created: a resume with the right licence runs this case again
                self._finish(job, outcome=Outcome.ERROR, final=False, error=str(exc))
                self.stop(f"licence rejected: {exc}")
                return False
            except ServiceError as exc:
                if exc.status_code >= 500:
                    self._note_error(str(exc))
                    self._finish(job, unknown=True, error=f"submit unknown: {exc}")
                else:
                    self._finish(job, rejected=True, error=str(exc), final_status="rejected")
                return False
            except MalformedResponse as exc:
                self._note_error(str(exc))
                self._finish(job, unknown=True, error=f"submit unknown: {exc}")
                return False
            self._speed_up()
            latency = self.now() - sent_at
            self._note(job, CaseSubmitted(self.now(), job.key, submitted.task_id, round(latency, 4)))
            self._error_streak = ("", 0)
            if job.case.expect.rejected:
                self._finish(job, outcome=Outcome.FAILED, error="expected the service to refuse this request; it "
                             f"accepted it (task {submitted.task_id})")
                return False
            return True
        self._finish(job, outcome=Outcome.ERROR, final=False, error=f"submit gave up after {attempt} refused "
                     f"connection(s) and {limited} rate limit(s) (no task was created)")
        return False

    async def _poll(self, job: Job, *, submitted_here: bool) -> None:
        st = job.state
        assert st.task_id is not None and st.submitted_at is not None
        speech = job.case.speech_seconds
        elapsed = self.now() - st.submitted_at
        last_status = st.last_status or "started"
        # when the task was last seen unfinished, by this process: a task an earlier process submitted may
        # have ended while none watched, so its first look here bounds its duration from above only, and
        # learning from it would stretch every later first poll by the dead time
        last_unfinished: float | None = 0.0 if submitted_here else None
        delay = max(0.0, self.schedule.first_delay(speech) - elapsed) if not st.history else \
            self.schedule.next_delay(speech, elapsed)
        errors = 0
        while True:
            elapsed = self.now() - st.submitted_at
            # the learned deadline judges a task seen unfinished; while polls fail, only case_timeout does
            deadline, why = self._deadline(speech) if errors == 0 else self._deadline(None)
            remaining = deadline - elapsed
            if remaining <= 0:
                self._finish(job, outcome=Outcome.TIMEOUT, error=f"timed out after {why} (last status "
                             f"{last_status!r})")
                return
            await self._sleep(min(delay, remaining))
            try:
                status = await self.client.status(st.task_id)
            except LicenseRejected as exc:
                self._finish(job, outcome=Outcome.ERROR, final=False, error=str(exc))
                self.stop(f"licence rejected: {exc}")
                return
            except ClientError as exc:
                errors += 1
                if errors > self.options.poll_retries:
                    st.polls += 1
                    self._finish(job, outcome=Outcome.ERROR, error=f"polling failed {errors} times in a row: {exc}")
                    return
                delay = self._backoff(errors, exc.retry_after if isinstance(exc, RateLimited) else None)
                self._note(job, PollFailed(self.now(), job.key, str(exc), round(delay, 3)))
                continue
            errors = 0
            at = self.now() - st.submitted_at
            if status.status != last_status or not st.history:
                self._note(job, StatusObserved(self.now(), job.key, status.status, st.polls + 1))
                last_status = status.status
            else:
                st.polls += 1  # not journaled: see _state
            if status.status in TERMINAL_STATUSES:
                if status.status == "done" and last_unfinished is not None:
                    self.schedule.observe(speech, last_unfinished, at)
                await self._complete(job, status, at)
                return
            last_unfinished = at
            delay = self.schedule.next_delay(speech, at)

    def _deadline(self, speech: float | None) -> tuple[float, str]:
        """When a case of this speech length gives up (None: only case_timeout), and how to say why."""
        cap = self.options.case_timeout
        factor = self.options.deadline_factor
        window = self.schedule.expected(speech) if factor and speech is not None else None
        if window is None or factor is None:
            return cap, f"{cap:g} s"
        p95 = window.latest
        learned = max(factor * p95, p95 + self.options.deadline_margin)
        if learned >= cap:
            return cap, f"{cap:g} s"
        return learned, f"{learned:.1f} s (similar tasks took {p95:.1f} s at their 95th percentile)"

    async def _complete(self, job: Job, status: TaskStatus, at: float) -> None:
        fetched: Mapping[str, Any] = {}
        if status.status == "done" and status.video_url and self.fetch is not None:
            try:
                fetched = await self.fetch(job.key, status.video_url)
            except (ClientError, ValueError, OSError) as exc:
                fetched = {"fetch_error": str(exc)}
        self._finish(job, final_status=status.status, video_url=status.video_url, time_to_done=round(at, 3),
                     error=status.message, **fetched)

    # -- endings -----------------------------------------------------------------------------

    def _as_sent(self, case: Case) -> Mapping[str, Any]:
        """The body as sent (local files as their URLs), without the licence; read-only."""
        if not case.files:
            return case.request
        try:
            body = case.body("", self.media_url)
        except (ValueError, OSError):
            return case.request
        body.pop("license")
        return body

    @staticmethod
    def _identity(case: Case) -> dict[str, Any]:
        """The fields of a record that name its case (the rest say what happened)."""
        return {"case_id": case.case_id, "scenario": case.scenario, "label": case.label, "tags": case.tags,
                "mode": int(case.mode) if case.mode else None, "params": case.params,  # read-only: shared
                "speech_seconds": case.speech_seconds}

    def _note_error(self, message: str) -> None:
        last, n = self._error_streak
        n = n + 1 if message == last else 1
        self._error_streak = (message, n)
        if n >= self.options.identical_errors:
            self.stop(f"{n} identical errors in a row: {message}")

    def _finish(self, job: Job, *, outcome: Outcome | None = None, unknown: bool = False, rejected: bool = False,
                final: bool = True, **happened: Any) -> None:
        """End ``job``: one record per case, judged against its ``expect``; ``happened`` are record fields."""
        st = job.state
        records = []
        for case in job.cases:
            sent = self._as_sent(case)
            # the case's id is the hash of its request: sent as declared (no local file), it is the same id
            rid = case.case_id if sent is case.request else request_id(sent)
            rec = CaseRecord(
                key=job.key, repeat=job.repeat, **self._identity(case), outcome=Outcome.SKIPPED,
                request=redact_request(sent), request_id=rid, task_id=st.task_id,
                status_history=tuple(st.history),  # read-only; a state only appends
                submit_latency=round(st.latency, 4) if st.latency is not None else None, polls=st.polls,
                retries=st.retries, submit_unknown=unknown, **happened)
            verdict, checks = evaluate(case.expect, rec, forced=outcome, rejected=rejected, unknown=unknown)
            records.append(rec.replace(outcome=verdict, checks=checks))
        self._finished(job, records, final=final)

    def _finished(self, job: Job, records: list[CaseRecord], *, final: bool) -> None:
        if job.annotations:
            records = [r.replace(**job.annotations) for r in records]
        if job.key in self._ended:
            self._ended[job.key] = (records, final)
        for rec in records:
            self.outcomes[rec.outcome] += 1
        self._note(job, CaseFinished(self.now(), job.key, records, final))
        if final and any(r.outcome.bad for r in records):
            self._failures += 1
            if self.options.fail_fast:
                self.stop(f"--fail-fast: case {job.key} ended {records[0].outcome}")
            elif self.options.max_failures is not None and self._failures >= self.options.max_failures:
                self.stop(f"--max-failures {self.options.max_failures} reached")
