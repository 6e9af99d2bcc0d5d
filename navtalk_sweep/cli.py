"""The ``navtalk-sweep`` command line: validate, plan, schema, run, mock, report, compare, merge.

Exit codes: 0 all good, 1 expectations or regressions failed, 2 bad input or usage.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from navtalk_sweep.contract import VOICES, Mode
from navtalk_sweep.errors import NavTalkSweepError, ScenarioError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _print_err(message: str) -> None:
    print(message, file=sys.stderr)


def _load(files: Sequence[str]) -> Any:
    from navtalk_sweep.scenario import load_scenarios

    plans, warnings = load_scenarios(files)
    for w in warnings:
        _print_err(w)
    return plans


def cmd_validate(args: argparse.Namespace) -> int:
    plans = _load(args.files)
    total = sum(p.count() for p in plans)
    print(f"ok: {len(plans)} scenario(s), {total} case(s)")
    return EXIT_OK


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    from collections import Counter

    plans = _load(args.files)
    all_modes: Counter[int] = Counter()
    all_voices: Counter[str] = Counter()
    total_cases, total_seconds = 0, 0.0
    out: dict[str, Any] = {"scenarios": []}
    for plan in plans:
        modes, voices, seconds = plan.summary()
        n = plan.count()
        all_modes.update(modes)
        all_voices.update(voices)
        total_cases += n
        total_seconds += seconds
        head = plan.head(args.show)
        out["scenarios"].append({"name": plan.name, "source": plan.source, "cases": n,
                                 "modes": {str(k): v for k, v in sorted(modes.items())},
                                 "voices": dict(voices), "speech_seconds": seconds,
                                 "first": [{"case_id": c.case_id, "mode": int(c.mode) if c.mode else None,
                                            "label": c.label} for c in head]})
        if args.format == "text":
            print(f"{plan.name} ({plan.source}): {n} case(s), {seconds:.1f} s of speech, sample={plan.sample.method}")
            rows = [[c.case_id, str(int(c.mode or 0) or "-"), c.label] for c in head]
            if rows:
                print(_table(rows, ["case_id", "mode", "label"]))
            if n > len(head):
                print(f"... and {n - len(head)} more")
            print()
    out["total"] = {"cases": total_cases, "speech_seconds": round(total_seconds, 1),
                    "modes": {str(k): v for k, v in sorted(all_modes.items())}, "voices": dict(all_voices)}
    if args.format == "json":
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"total: {total_cases} case(s) in {len(plans)} scenario(s), {total_seconds:.1f} s of speech to generate")
    mode_rows = [[str(m.value), m.label, str(all_modes.get(m.value, 0))] for m in Mode]
    if all_modes.get(0):
        mode_rows.append(["-", "breaks the contract (negative tests)", str(all_modes[0])])
    print(_table(mode_rows, ["mode", "name", "cases"]))
    if all_voices:
        print()
        print(_table([[v, str(all_voices.get(v, 0))] for v in VOICES], ["voice", "cases"]))
    return EXIT_OK


def cmd_schema(args: argparse.Namespace) -> int:
    from navtalk_sweep.scenario import json_schema

    print(json.dumps(json_schema(), indent=2))
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    from navtalk_sweep import __version__

    parser = argparse.ArgumentParser(
        prog="navtalk-sweep",
        description="QA and tuning harness for the NavTalk digital-human video API: sweep scenarios against "
                    "the bundled mock or the real service, then compare the videos in an HTML report.",
        epilog="exit codes: 0 all good, 1 expectations or regressions failed, 2 bad input or usage")
    parser.add_argument("--version", action="version", version=f"navtalk-sweep {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check scenario files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("plan", help="count and preview the cases of scenario files")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--show", type=_count, default=10, help="cases to list per scenario (default 10)")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(func=cmd_plan)

    p = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    p.set_defaults(func=cmd_schema)

    _add_more_commands(sub)
    return parser


def _add_more_commands(sub: Any) -> None:
    """Commands that live in their own module to keep this one small."""
    from navtalk_sweep import _cli_run

    _cli_run.register(sub)


def _count(text: str) -> int:
    """argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    # httpx's package imports its own command line (click, rich, pygments: a tenth of a second of every
    # start) whenever they are installed, as test extras install them; this program never runs it, and
    # a None entry makes that import fail into httpx's fallback (Python's documented sys.modules rule)
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ScenarioError as exc:
        _print_err(str(exc))  # already starts with file:line:col
        return EXIT_USAGE
    except NavTalkSweepError as exc:
        _print_err(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _print_err("interrupted (what had finished is saved; continue with: navtalk-sweep run --resume DIR)")
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
