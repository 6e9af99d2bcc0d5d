"""CLI commands over stored runs: report, serve, compare, merge, marks.

The report and results modules are imported by the commands that use them (see ``_cli_run``)."""

from __future__ import annotations

import argparse
import functools
import http.server
import json
from pathlib import Path
from typing import Any

from navtalk_sweep.errors import RunError, UsageError

EXIT_OK, EXIT_FAILED = 0, 1


def _render(run_dir: Path, baseline: str | None) -> None:
    """Write report.html and junit.xml (and comparison.json), printing a baseline comparison."""
    from navtalk_sweep.report import format_comparison, publish

    comparison = publish(run_dir, baseline)
    if comparison is not None:
        print(format_comparison(comparison, "text"))


def cmd_report(args: argparse.Namespace) -> int:
    run_dir = Path(args.run)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: no such run directory")
    _render(run_dir, args.baseline)
    print(f"report: {run_dir / 'report.html'}\njunit:  {run_dir / 'junit.xml'}")
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    from navtalk_sweep.report import compare_runs, format_comparison
    from navtalk_sweep.results import load_run

    c = compare_runs(load_run(args.base), load_run(args.new), time_ratio=args.time_ratio)
    print(format_comparison(c, args.format))
    return EXIT_FAILED if c.regressions else EXIT_OK


def cmd_merge(args: argparse.Namespace) -> int:
    from navtalk_sweep.report import merge_runs

    out = Path(args.out)
    for run_dir in args.runs:
        if Path(run_dir).resolve() == out.resolve():
            raise UsageError(f"--out {out}: is one of the runs to merge; merge into a new directory")
    run = merge_runs(args.runs, out)
    _render(out, None)
    print(f"merged {len(args.runs)} run(s), {len(run.records)} case(s) into {out}")
    return EXIT_OK


def cmd_marks(args: argparse.Namespace) -> int:
    """Read reviewers' marks exported from the report back into the run's results."""
    from navtalk_sweep.results import load_run, write_results

    run = load_run(args.run)
    if not Path(args.marks).is_file():
        raise RunError(f"{args.marks}: no such file (export the marks from the report's grid first)")
    try:
        data: Any = json.loads(Path(args.marks).read_text(encoding="utf-8"))
        marks = {m["key"]: m for m in data["marks"]}
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RunError(f"{args.marks}: not a marks export from a navtalk-sweep report ({exc})") from None
    if data.get("run_id") not in (None, run.meta.get("run_id")):
        raise RunError(f"{args.marks}: marks are for run {data.get('run_id')}, not {run.meta.get('run_id')}")
    unknown = sorted(set(marks) - {rec.key for rec in run.records})
    if unknown:  # marks of another run, or of cases since removed: nothing is written
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise RunError(f"{args.marks}: {len(unknown)} mark(s) for cases not in {run.path}: {shown}")
    applied = 0
    records = []
    for rec in run.records:
        mark = marks.get(rec.key)
        if mark:
            raw = mark.get("rating")
            rating = "" if raw is None or raw == "" else str(raw)  # a 0 is a bad rating, not "no rating"
            if rating and rating not in {"1", "2", "3", "4", "5"}:
                raise RunError(f"{args.marks}: rating of {rec.key} must be 1 to 5, got {rating!r}")
            rec = rec.replace(review={"rating": int(rating) if rating else None, "note": str(mark.get("note") or "")})
            applied += 1
        records.append(rec)
    write_results(run.path, records)
    _render(run.path, None)
    print(f"{applied} mark(s) written to {run.path / 'results.jsonl'}")
    return EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from navtalk_sweep.calibrate import calibrate

    try:
        fit = calibrate(args.runs, seed=args.seed)
    except ValueError as exc:
        raise RunError(str(exc)) from None
    text = fit.profile_yaml()
    Path(args.output).write_text(text, encoding="utf-8")
    print("\n".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("#")))
    print(f"profile: {args.output} (navtalk-sweep mock --config {args.output})")
    return EXIT_OK


def cmd_drift(args: argparse.Namespace) -> int:
    from navtalk_sweep.calibrate import drift

    if args.slack < 0:
        raise UsageError(f"--slack must be 0 or more, got {args.slack:g}")
    found = drift(args.recorded, args.new, slack=args.slack)
    for item in found.items:
        print(f"drift: {item}")
    for note in found.notes:
        print(f"note: {note}")
    if not found.drifted:
        print(f"no drift: {args.new} stays within what {len(args.recorded)} recorded run(s) showed")
    return EXIT_FAILED if found.drifted else EXIT_OK


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """A run directory's files, never cached: the report is rewritten within the second its last version
    was, and a browser asking "modified since" that second got 304 and kept "Still running" for ever."""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a refreshing page asks every few seconds: no line per request

    def send_head(self) -> Any:
        del self.headers["If-Modified-Since"]  # file times have one-second resolution here
        return super().send_head()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


def serve_run(run_dir: Path, port: int, ready: Any = None) -> None:
    """Serve a run directory on loopback until interrupted; ``ready(url, server)`` is told where (and can
    ``server.shutdown()`` it from another thread)."""
    if not (run_dir / "run.json").is_file():
        raise UsageError(f"{run_dir}: not a run directory (no run.json)")
    handler = functools.partial(_Quiet, directory=str(run_dir))
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    except OSError as exc:
        raise UsageError(f"--port {port}: cannot listen on 127.0.0.1 ({exc.strerror or exc})") from None
    url = f"http://127.0.0.1:{server.server_address[1]}/report.html"
    if ready is None:
        print(f"serving {run_dir} at {url} (Ctrl-C stops)", flush=True)
    else:
        ready(url, server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def cmd_serve(args: argparse.Namespace) -> int:
    serve_run(Path(args.run), args.port)
    return EXIT_OK


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="serve a run's report on loopback (it reloads itself while the run goes)")
    p.add_argument("run", metavar="DIR")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765; 0: any free one)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("report", help="render report.html and junit.xml from a run (no network)")
    p.add_argument("run", metavar="DIR")
    p.add_argument("--baseline", metavar="DIR", help="also compare with this run")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("compare", help="compare two runs; exit 1 on regressions")
    p.add_argument("base", metavar="BASE")
    p.add_argument("new", metavar="NEW")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text")
    p.add_argument("--time-ratio", type=float, default=1.5, help="slower than this many times is a change")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("merge", help="join run directories (e.g. CI shards) into one")
    p.add_argument("runs", nargs="+", metavar="DIR")
    p.add_argument("--out", required=True, metavar="DIR")
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("calibrate", help="fit simulator settings (timing, failures, HTTP faults) to finished runs")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("-o", "--output", default="profile.yaml", help="the profile to write (default profile.yaml)")
    p.add_argument("--seed", type=int, default=0, help="seed of the simulated side of the fit's table")
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("drift", help="where a new run departs from recorded ones; exit 1 when it does")
    p.add_argument("recorded", nargs="+", metavar="RECORDED_RUN")
    p.add_argument("--new", required=True, metavar="RUN_DIR", help="the fresh run to judge")
    p.add_argument("--slack", type=float, default=0.2, help="how far past the recorded 5th-95th percentiles a "
                   "time to done may fall (default 0.2 = 20 %%)")
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser("marks", help="read marks exported from a report into the run's results")
    p.add_argument("run", metavar="DIR")
    p.add_argument("marks", metavar="MARKS.json")
    p.set_defaults(func=cmd_marks)
