"""CLI commands that run things: run, mock."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from navtalk_sweep._progress import Progress
from navtalk_sweep.client import AsyncNavTalkClient, Endpoint
from navtalk_sweep.clock import ManualClock, run_virtual
from navtalk_sweep.contract import redact_license
from navtalk_sweep.errors import ClientError, InvalidArgument, RunError
from navtalk_sweep.media import have_av, probe_video
from navtalk_sweep.results import Journal, load_run, new_run_id, read_journal, replay, write_meta, write_results
from navtalk_sweep.runner import BAD_OUTCOMES, Event, Runner, RunOptions, plan_jobs
from navtalk_sweep.scenario import Case, load_scenarios

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
MOCK_LICENSE = "sk-test-mock"


def _options(args: argparse.Namespace) -> RunOptions:
    return RunOptions(
        concurrency=args.concurrency, submit_rate=args.submit_rate, case_timeout=args.case_timeout,
        max_tasks=args.max_tasks, max_speech_seconds=args.max_speech_seconds, fail_fast=args.fail_fast,
        max_failures=args.max_failures, resubmit_unknown=args.resubmit_unknown, repeat=args.repeat,
        seed=args.seed, first_poll=args.first_poll, dense_interval=args.poll_interval,
        max_poll_interval=args.max_poll_interval,
    )


class _Target:
    """Where a run sends its requests: the in-process mock or a URL."""

    def __init__(self, args: argparse.Namespace, saved: dict[str, Any] | None = None) -> None:
        target = args.target
        generate = status = None
        if target is None and saved:  # a resumed run goes back to where it was sent
            target = "mock" if saved.get("kind") == "mock" else "navtalk"
            generate, status = saved.get("generate_url"), saved.get("status_url")
        if target is None:  # the environment may name a service; otherwise the bundled mock
            has_env = os.environ.get("NAVTALK_GENERATE_URL") or os.environ.get("NAVTALK_STATUS_URL")
            target = "navtalk" if has_env else "mock"
        self.kind = "mock" if target == "mock" else "url"
        self.clock: ManualClock | None = None
        self.service: Any = None
        if self.kind == "mock":
            from mock_server import MockTransport, create_service
            from navtalk_sweep.simulator import SimulatorConfig

            config = SimulatorConfig.from_dict(_read_config(args.mock_config)) if args.mock_config else None
            self.clock = ManualClock() if args.mock_clock == "virtual" else None
            self.service = create_service(seed=args.seed, config=config, clock=self.clock)
            self.endpoint = Endpoint(args.license or MOCK_LICENSE, "https://mock.navtalk.invalid/generate",
                                     "https://mock.navtalk.invalid/query_status")
            self.transport: httpx.AsyncBaseTransport | None = MockTransport(self.service)
        else:
            if target != "navtalk":  # a base URL serving both endpoints (a mock, a proxy)
                base = target.rstrip("/")
                generate, status = f"{base}/generate", f"{base}/query_status"
            self.endpoint = Endpoint.from_env(license=args.license, generate_url=generate, status_url=status)
            if not self.endpoint.license:
                raise InvalidArgument("no licence: set NAVTALK_LICENSE or pass --license (the mock target needs none)")
            self.transport = None

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "generate_url": self.endpoint.generate_url,
                "status_url": self.endpoint.status_url, "license": redact_license(self.endpoint.license)}


def _shard(text: str | None) -> tuple[int, int]:
    """``K/N`` (1-based) as (index, count); every N-th case from the K-th, in plan order."""
    if not text:
        return 0, 1
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise InvalidArgument(f"--shard must be K/N with 1 <= K <= N, got {text!r}")
    return k - 1, n


def _read_config(path: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InvalidArgument(f"{path}: cannot read mock config: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: mock config must be a mapping")
    return data


def _confirm(n_tasks: int, args: argparse.Namespace, target: _Target) -> None:
    if target.kind == "mock" or args.yes or args.dry_run or n_tasks <= args.confirm_over:
        return
    if not sys.stdin.isatty():
        raise InvalidArgument(f"about to send {n_tasks} paid tasks to {target.endpoint.generate_url}; "
                              "pass --yes to confirm (no terminal to ask on)")
    answer = input(f"Send {n_tasks} paid tasks to {target.endpoint.generate_url}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise InvalidArgument("cancelled: nothing was sent")


def _reuse_map(path: str | None) -> dict[str, dict[str, Any]]:
    if not path:
        return {}
    run = load_run(path)
    out = {}
    for rec in run.records:
        if rec.get("final_status") == "done" and rec.get("outcome") != "skipped":
            video = rec.get("video")
            if video and (run.path / video).is_file():
                video = str((run.path / video).resolve())  # copied into the new run at the end
            out[rec["case_id"]] = {**rec, "video": video, "run_id": run.meta.get("run_id", str(run.path))}
    return out


def _adopt_videos(run_dir: Path, records: list[dict[str, Any]]) -> None:
    """Copy reused videos into this run, so a run directory stands on its own."""
    for rec in records:
        video = rec.get("video")
        if video and Path(video).is_absolute() and Path(video).is_file():
            (run_dir / "videos").mkdir(exist_ok=True)
            dest = run_dir / "videos" / f"{rec['key']}.mp4"
            shutil.copyfile(video, dest)
            rec["video"] = f"videos/{dest.name}"


async def _execute(args: argparse.Namespace, run_dir: Path, target: _Target, reuse: dict[str, dict[str, Any]],
                   jobs: list[Any], emit: Any) -> Runner:
    limits = httpx.Limits(max_connections=max(10, args.concurrency * 2))
    timeout = httpx.Timeout(args.request_timeout)
    async with httpx.AsyncClient(transport=target.transport, limits=limits, timeout=timeout) as http:
        client = AsyncNavTalkClient(target.endpoint, http)
        media_url = await _prepare_media(target, client, jobs)
        fetch = _fetcher(client, run_dir) if args.download else None
        runner = Runner(client, _options(args), emit, now=_now(target), media_url=media_url, fetch=fetch,
                        reuse=reuse)
        await runner.run(jobs)
        return runner


def _now(target: _Target) -> Any:
    if target.clock is not None:
        return asyncio.get_running_loop().time
    return time.time


async def _prepare_media(target: _Target, client: AsyncNavTalkClient, jobs: list[Any]) -> Any:
    """Hand every local file to the target before any submit; returns how a token becomes a URL.

    The in-process mock takes them directly, ``navtalk-sweep mock`` by upload; a target that
    cannot take them stops the run here, before anything is paid for.
    """
    base = target.endpoint.generate_url.rsplit("/", 1)[0]
    urls: dict[str, str] = {}
    for job in jobs:
        for token, path in job.case.files.items():
            if token in urls:
                continue
            name = token.removeprefix("media://")
            data = Path(path).read_bytes()
            if target.service is not None:
                target.service.uploads[name] = data
            else:
                try:
                    await client.upload(f"{base}/__admin/media/{name}", data)
                except ClientError as exc:
                    raise InvalidArgument(f"{path}: the target cannot take local files ({exc}); give the face "
                                          "as a video_url or image_url instead") from None
            urls[token] = f"{base}/media/{name}"
    return lambda token, path: urls[token]


def _fetcher(client: AsyncNavTalkClient, run_dir: Path) -> Any:
    videos = run_dir / "videos"

    async def fetch(key: str, url: str) -> dict[str, Any]:
        videos.mkdir(exist_ok=True)
        dest = videos / f"{key}.mp4"
        size = await client.download(url, dest)
        out: dict[str, Any] = {"video": f"videos/{dest.name}", "video_bytes": size}
        if have_av():
            out["facts"] = probe_video(str(dest)).as_dict()
        return out

    return fetch


def cmd_run(args: argparse.Namespace) -> int:
    resume = Path(args.resume) if args.resume else None
    meta: dict[str, Any] = {}
    if resume is not None:
        try:
            meta = json.loads((resume / "run.json").read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{resume}: cannot resume: no readable run.json ({exc})") from None
        files = args.files or meta.get("scenario_files", [])
        run_dir = resume
    else:
        files = args.files
        run_dir = Path(args.out) / new_run_id() if not args.run_dir else Path(args.run_dir)
    if not files:
        raise InvalidArgument("name at least one scenario file (or --resume a run)")
    plans, warnings = load_scenarios(files)
    for warning in warnings:
        print(warning, file=sys.stderr)
    shard, shards = _shard(args.shard)
    cases: list[Case] = []
    offset = 0
    for plan in plans:  # shards are cut on the index space: cases of other shards are never built
        cases += plan.shard(shard, shards, offset)
        offset += plan.count()
    jobs = plan_jobs(cases, args.repeat)
    target = _Target(args, meta.get("target"))
    if args.dry_run:
        print(f"dry run: {len(cases)} case(s), {len(jobs)} task(s) to submit to {target.endpoint.generate_url}")
        return EXIT_OK
    _confirm(len(jobs), args, target)
    run_dir.mkdir(parents=True, exist_ok=True)
    replayed = replay(read_journal(run_dir / "journal.jsonl")) if resume else None
    if replayed is not None:
        for job in jobs:
            if job.key in replayed.states:
                job.state = replayed.states[job.key]
    meta = {**meta, "run_id": meta.get("run_id", run_dir.name), "scenario_files": [str(Path(f).resolve())
            for f in files], "scenarios": [p.name for p in plans], "target": target.describe(),
            "started_at": meta.get("started_at") or time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "status": "running", "options": {k: v for k, v in vars(_options(args)).items()},
            "resumed": meta.get("resumed", 0) + (1 if resume else 0)}
    write_meta(run_dir, meta)
    journal = Journal(run_dir)
    progress = Progress(len(jobs), plain=bool(os.environ.get("CI")) or not sys.stderr.isatty() or args.quiet)

    def emit(event: Event) -> None:
        journal(event)
        progress(event)

    reuse = _reuse_map(args.reuse)
    runner: Runner | None = None
    try:
        coro = _execute(args, run_dir, target, reuse, jobs, emit)
        runner = run_virtual(coro, target.clock) if target.clock is not None else asyncio.run(coro)
    finally:
        # interrupted or not, what finished is written out: no result is lost
        journal.close()
        progress.close()
        records = _final_records(run_dir, {job.key for job in jobs})
        _adopt_videos(run_dir, records)
        write_results(run_dir, records)
        outcomes = Counter(r["outcome"] for r in records)
        status = "interrupted" if runner is None else "stopped" if runner.stop_reason else "finished"
        meta.update(status=status, stop_reason=runner.stop_reason if runner else None,
                    finished_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"), outcomes=dict(outcomes))
        if target.service is not None:
            meta["mock_calls"] = dict(target.service.simulator.calls)
        write_meta(run_dir, meta)
    from navtalk_sweep._cli_report import after_run

    regressions = after_run(run_dir, args.baseline)
    shown = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
    print(f"{len(records)} case(s): {shown or 'none'}")
    if runner.stop_reason:
        print(f"run stopped: {runner.stop_reason}")
    print(f"results: {run_dir / 'results.jsonl'}\nreport:  {run_dir / 'report.html'}")
    bad = any(o in BAD_OUTCOMES for o in outcomes) or runner.stop_reason is not None or regressions
    return EXIT_FAILED if bad else EXIT_OK


def _final_records(run_dir: Path, keys: set[str]) -> list[dict[str, Any]]:
    """The last record of every job of this run (a resumed run may name fewer scenarios)."""
    replayed = replay(read_journal(run_dir / "journal.jsonl"))
    return [r for key, recs in replayed.records.items() if key in keys for r in recs]


def cmd_mock(args: argparse.Namespace) -> int:
    from mock_server.serve import serve
    from navtalk_sweep.simulator import SimulatorConfig, Timing

    data = _read_config(args.config) if args.config else {}
    if args.timing:
        data["timing"] = Timing.parse(args.timing)
    config = SimulatorConfig.from_dict(data)
    serve(host=args.host, port=args.port, seed=args.seed, config=config, media_dir=args.media_dir,
          quiet=args.quiet)
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the commands of this module to the CLI's subparsers."""
    p = sub.add_parser("run", help="run scenarios against the bundled mock or a NavTalk URL")
    p.add_argument("files", nargs="*", metavar="FILE")
    p.add_argument("--target", help="'mock' (in-process, no licence; the default), 'navtalk' (the vendor's two "
                   "hosts, or NAVTALK_GENERATE_URL / NAVTALK_STATUS_URL when set; the default when they are set), "
                   "or a base URL serving /generate and /query_status")
    p.add_argument("--license", help="licence key (default: NAVTALK_LICENSE)")
    p.add_argument("--out", default="reports", help="where run directories go (default reports/)")
    p.add_argument("--run-dir", help="exact run directory to write")
    p.add_argument("--resume", metavar="DIR", help="continue a killed or stopped run")
    p.add_argument("--resubmit-unknown", action="store_true", help="on resume, pay again for submits whose answer "
                   "was lost")
    p.add_argument("--reuse", metavar="DIR", help="take results of identical requests from an earlier run")
    p.add_argument("--baseline", metavar="DIR", help="compare with a known-good run at the end")
    p.add_argument("--concurrency", type=int, default=8, help="tasks in flight (default 8)")
    p.add_argument("--submit-rate", type=float, default=5.0, help="submits per second at most (default 5)")
    p.add_argument("--case-timeout", type=float, default=600.0, help="seconds per case (default 600)")
    p.add_argument("--request-timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    p.add_argument("--first-poll", type=float, default=5.0, help="seconds before the first poll, until the run "
                   "has learned how long tasks take (default 5, the vendor's minimum)")
    p.add_argument("--poll-interval", type=float, default=1.5, help="poll interval once a task is due "
                   "(default 1.5: mean detection lag about 0.75 s)")
    p.add_argument("--max-poll-interval", type=float, default=10.0, help="cap on the poll interval, hence on "
                   "detection lag, for overdue tasks (default 10)")
    p.add_argument("--max-tasks", type=int, help="budget: paid tasks at most")
    p.add_argument("--max-speech-seconds", type=float, help="budget: seconds of speech at most")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first case that does not pass")
    p.add_argument("--max-failures", type=int, help="stop after this many cases that do not pass")
    p.add_argument("--shard", metavar="K/N", help="run only shard K of N (CI parallelism; join with merge)")
    p.add_argument("--repeat", type=int, default=1, help="run every case N times (finds flaky cases)")
    p.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")
    p.add_argument("--yes", action="store_true", help="do not ask before sending many paid tasks")
    p.add_argument("--confirm-over", type=int, default=20, help="ask before sending more paid tasks than this")
    p.add_argument("--no-download", dest="download", action="store_false", help="do not download result videos")
    p.add_argument("--seed", type=int, default=0, help="seed for the mock and for jitter")
    p.add_argument("--mock-config", metavar="FILE", help="simulator settings for the bundled mock (YAML/JSON)")
    p.add_argument("--mock-clock", choices=["virtual", "real"], default="virtual",
                   help="the bundled mock's clock: virtual (instant, default) or real (5-20 s per task)")
    p.add_argument("--quiet", action="store_true", help="plain progress lines only")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("mock", help="serve the NavTalk mock over HTTP")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--config", metavar="FILE", help="simulator settings (YAML/JSON): timing, faults, licences")
    p.add_argument("--timing", help="fixed:SECONDS, uniform:LOW-HIGH or speech (default)")
    p.add_argument("--media-dir", help="folder served under /media/ (media the mock reads for real)")
    p.add_argument("--quiet", action="store_true", help="no per-request log lines")
    p.set_defaults(func=cmd_mock)

    from navtalk_sweep import _cli_report

    _cli_report.register(sub)

