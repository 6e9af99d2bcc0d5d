"""CLI commands that run things: run, mock.

The runner, the client, the report and the session are imported by the command that uses them: the
parser is built for every command (``validate`` and ``mock`` too), and importing them all took 0.8 s of
CPU at every start.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from navtalk_sweep._run_options import add_options, confirm_paid, read_options, run_options
from navtalk_sweep._sweep_plan import MAX_CASES, load_mock_config
from navtalk_sweep.errors import InvalidArgument, UsageError

if TYPE_CHECKING:
    from navtalk_sweep.session import Target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _shard(text: str | None) -> tuple[int, int]:
    """``K/N`` (1-based) as (index, count); every N-th case from the K-th, in plan order."""
    if not text:
        return 0, 1
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise UsageError(f"--shard must be K/N with 1 <= K <= N, got {text!r}")
    return k - 1, n


def _target(args: argparse.Namespace, saved: dict[str, Any] | None) -> Target:
    """``--target`` and friends as a typed Target; a real service without a licence is a usage error."""
    from navtalk_sweep.session import Target, TargetKind

    try:
        config = load_mock_config(args.mock_config) if args.mock_config else None
    except InvalidArgument as exc:
        raise UsageError(f"--mock-config {exc}") from None
    try:
        target = Target.parse(args.target, license=args.license, seed=args.seed, mock_config=config,
                              clock=args.mock_clock, saved=saved)
    except InvalidArgument as exc:
        raise UsageError(f"--target: {exc}") from None
    if target.kind is TargetKind.URL and not target.license:
        raise UsageError("no licence: set NAVTALK_LICENSE or pass --license (the mock target needs none)")
    return target


def _check_paths(args: argparse.Namespace, run_dir: Path) -> None:
    """Every path the run will read or write, checked before anything is sent (one line, exit 2)."""
    from navtalk_sweep.results import RunLock

    if args.baseline and not (Path(args.baseline) / "results.jsonl").is_file():
        raise UsageError(f"--baseline {args.baseline}: not a run directory (no results.jsonl)")
    if args.reuse and not (Path(args.reuse) / "results.jsonl").is_file():
        raise UsageError(f"--reuse {args.reuse}: not a run directory (no results.jsonl)")
    for flag, path in (("--out", Path(args.out)), ("--run-dir", run_dir)):
        if path.exists() and not path.is_dir():
            raise UsageError(f"{flag} {path}: is a file, not a directory")
    if run_dir.is_dir():
        with RunLock(run_dir):  # a run still going says so (its pid), before anything else is said of it
            pass
    if not args.resume and not getattr(args, "replace", False) and any(
            (run_dir / name).exists() for name in ("results.jsonl", "journal.jsonl")):
        raise UsageError(f"--run-dir {run_dir}: holds a run already; --resume it, or --replace it (its results and "
                         "reviewers' marks are lost)")


def cmd_run(args: argparse.Namespace) -> int:
    from navtalk_sweep._progress import Progress
    from navtalk_sweep.analysis import pool
    from navtalk_sweep.report import format_comparison
    from navtalk_sweep.results import RunDirectory, new_run_id
    from navtalk_sweep.runner import CaseSubmitted, Event
    from navtalk_sweep.session import Sweep, load_plan

    pool.use_by_default()  # measuring on every core (NAVTALK_SWEEP_WORKERS=0: in this process)
    meta = RunDirectory(args.resume).read_meta() if args.resume else None
    files = args.files or (meta.scenario_files if meta else [])
    if not files:
        raise UsageError("name at least one scenario file (or --resume a run)")
    shard = _shard(args.shard) if args.shard or meta is None else meta.shard
    plan = load_plan(files, shard=shard, max_cases=args.max_cases or None)
    for warning in plan.warnings:
        print(warning, file=sys.stderr)
    values = read_options(lambda name: getattr(args, name))
    options = run_options(values, seed=args.seed or 0)
    target = _target(args, meta.target if meta else None)
    run_dir = Path(args.resume or args.run_dir or Path(args.out) / new_run_id())
    _check_paths(args, run_dir)
    progress = Progress(0, plain=bool(os.environ.get("CI")) or not sys.stderr.isatty() or args.quiet)
    watching = [False]

    def on_event(event: Event) -> None:
        if not watching[0] and isinstance(event, CaseSubmitted) and target.paid:
            # once something is paid for: a long paid run is worth watching, and stopping early
            watching[0] = True
            print(f"watch it: navtalk-sweep serve {run_dir} (report.html is rewritten as cases finish)",
                  file=sys.stderr)
        progress(event)

    try:
        sweep = Sweep(plan, run_dir, target=target, options=options, resume=bool(args.resume), reuse=args.reuse,
                      baseline=args.baseline, download=args.download, request_timeout=values["request_timeout"],
                      record=args.record, measure=False if not args.metrics else None, on_event=on_event,
                      study_storage=args.study_storage)
    except OSError as exc:
        raise UsageError(f"{exc.filename or run_dir}: {exc.strerror or exc}") from None
    for notice in sweep.notices():
        print(notice, file=sys.stderr)
    if args.dry_run:
        searched = sum(p.searched_most() for p in plan.searches)
        searching = f" and a search of at most {searched} video(s)" if searched else ""
        print(f"dry run: {len(plan.cases)} case(s){searching}, {sweep.to_send()} task(s){' at most' if searched else ''}"
              f" to submit to {target.generate_url}")
        return EXIT_OK
    confirm_paid(sweep.to_send(), target, values, ask=input)
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--run-dir {run_dir}: cannot be made ({exc.strerror or exc})") from None
    progress.jobs = len(sweep.jobs)
    interrupted = False
    try:
        result = sweep.run()
    except KeyboardInterrupt:
        interrupted = True
    finally:
        progress.close()  # once: the progress line's last state, then what to do next
    if interrupted:
        print(f"interrupted: what had finished is saved in {run_dir}; continue with: navtalk-sweep run --resume "
              f"{run_dir}", file=sys.stderr)
        return 130
    if result.comparison is not None:
        print(format_comparison(result.comparison, "text"))
    print(result.summary_line())
    if result.stop_reason:
        print(f"run stopped: {result.stop_reason}")
    print(f"results: {run_dir / 'results.jsonl'}\nreport:  {run_dir / 'report.html'}")
    return EXIT_OK if result.ok else EXIT_FAILED


def cmd_mock(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from mock_server.serve import serve
    from navtalk_sweep.simulator import Cassette, SimulatorConfig, Timing

    try:
        config = load_mock_config(args.config) if args.config else SimulatorConfig()
    except InvalidArgument as exc:
        raise UsageError(f"--config {exc}") from None
    if args.timing:
        config = replace(config, timing=Timing.parse(args.timing))
    cassette = None
    if args.replay:
        # unrecorded requests: refused in CI (a drifted integration fails loudly), simulated elsewhere
        unmatched: Literal["refuse", "simulate"] = args.unrecorded or (
            "refuse" if os.environ.get("CI") else "simulate")
        config = replace(config, replay_unmatched=unmatched)
        try:
            cassette = Cassette.load(args.replay)
        except (OSError, ValueError, TypeError) as exc:
            raise UsageError(f"--replay: {exc}") from None
    try:  # before saying it serves: a port in use is one line, not uvicorn's Errno 98 after the banner
        with socket.create_server((args.host, args.port)):
            pass
    except OSError as exc:
        raise UsageError(f"--port {args.port}: cannot listen on {args.host}:{args.port} ({exc.strerror or exc})") from None
    serve(host=args.host, port=args.port, seed=args.seed, config=config, media_dir=args.media_dir,
          quiet=args.quiet, replay=cassette)
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
    p.add_argument("--replace", action="store_true", help="write over a run already in --run-dir")
    p.add_argument("--reuse", metavar="DIR", help="take results of identical requests from an earlier run (a measure "
                   "it computed by an earlier definition is measured again from its videos; nothing is sent)")
    p.add_argument("--baseline", metavar="DIR", help="compare with a known-good run at the end")
    add_options(p.add_argument)  # shared with the pytest plugin's --navtalk-* options
    p.add_argument("--shard", metavar="K/N", help="run only shard K of N (CI parallelism; join with merge)")
    p.add_argument("--dry-run", action="store_true", help="count what would be sent, send nothing")
    p.add_argument("--max-cases", type=int, default=MAX_CASES, help=f"refuse to build more cases than this "
                   f"(default {MAX_CASES}; 0: no limit)")
    p.add_argument("--study-storage", metavar="URL", help="where a search's Optuna studies live: a database URL "
                   "(sqlite:///x.db, postgresql://...) or a journal file several runs share (default: "
                   "RUN_DIR/study.journal)")
    p.add_argument("--record", action="store_true", help="keep every exchange in RUN_DIR/cassette.jsonl (licence "
                   "and URL signatures redacted) for navtalk-sweep mock --replay")
    p.add_argument("--no-download", dest="download", action="store_false", help="do not download result videos")
    p.add_argument("--no-metrics", dest="metrics", action="store_false",
                   help="do not measure downloaded videos (measured when the face extra is installed)")
    p.add_argument("--seed", type=int, default=None, help="seed for the mock and for jitter (default 0; a resumed "
                   "run keeps its own)")
    p.add_argument("--mock-config", metavar="FILE", help="simulator settings for the bundled mock (YAML/JSON)")
    p.add_argument("--mock-clock", choices=["virtual", "real"], default=None,
                   help="the bundled mock's clock: virtual (instant, default) or real (5-20 s per task); a resumed "
                        "run keeps its own")
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
    p.add_argument("--replay", nargs="+", metavar="RUN_DIR", help="answer requests recorded with run --record as "
                   "they were answered, on the same timeline")
    p.add_argument("--unrecorded", choices=["refuse", "simulate"], help="with --replay, what a request never "
                   "recorded gets (default: refuse when CI is set, else simulate)")
    p.set_defaults(func=cmd_mock)

    from navtalk_sweep import _cli_preview, _cli_report

    _cli_report.register(sub)
    _cli_preview.register(sub)

