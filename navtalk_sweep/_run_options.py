"""The run options, declared once: the CLI's ``run`` flags and the pytest plugin's ``--navtalk-*`` options are
both made from this table (same defaults, limits and help), and both ask the same question before paying.

Only the standard library at import: the pytest plugin declares its options from here at start-up.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from navtalk_sweep.errors import UsageError

if TYPE_CHECKING:
    from navtalk_sweep.runner import RunOptions
    from navtalk_sweep.session import Target

#: the prefix of the pytest plugin's options (``--navtalk-max-tasks``)
PYTEST_PREFIX = "navtalk-"


@dataclass(frozen=True)
class RunOption:
    """One option: ``--name`` on the CLI, ``--navtalk-name`` in pytest (when ``pytest`` is True)."""

    name: str  # the attribute, underscores
    kind: type  # int, float, or bool for a switch
    default: Any
    help: str
    must: tuple[Callable[[Any], bool], str] | None = None  # the test a value must pass, and what it says
    pytest: bool = True  # False: meaningless for a pytest session (resume, repeats, stopping early)

    def flag(self, prefix: str = "") -> str:
        return _flag(self.name, prefix)


def _flag(name: str, prefix: str = "") -> str:
    return f"--{prefix}{name.replace('_', '-')}"


_AT_LEAST_1 = (lambda v: v >= 1, "at least 1")
_POSITIVE = (lambda v: v > 0, "more than 0")
_SECONDS = (lambda v: v > 0, "more than 0 seconds")

RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption("concurrency", int, 8, "tasks in flight", _AT_LEAST_1),
    RunOption("submit_rate", float, 5.0, "submits per second at most", _POSITIVE),
    RunOption("case_timeout", float, 600.0, "seconds per case", _SECONDS),
    RunOption("deadline_factor", float, 3.0, "once task durations are learned, give a case up after this many "
              "times the 95th percentile of similar tasks (at least that + 10 s; never past the case timeout); "
              "0: only the case timeout", (lambda v: v == 0 or v >= 1, "0 (off) or at least 1")),
    RunOption("request_timeout", float, 30.0, "seconds per HTTP request", _SECONDS),
    RunOption("first_poll", float, 5.0, "seconds before the first poll, until the run has learned how long tasks "
              "take (the vendor's minimum)", (lambda v: v >= 0, "0 seconds or more")),
    RunOption("first_poll_quantile", float, 0.65, "once durations are learned, the first poll goes at this "
              "quantile of similar tasks' durations (fewest calls within 1 s mean lag; 0.05 for a recording "
              "meant for calibrate)", (lambda v: 0 < v <= 1, "between 0 (excluded) and 1")),
    RunOption("poll_interval", float, 1.5, "poll interval once a task is due (mean detection lag about half)",
              _SECONDS),
    RunOption("max_poll_interval", float, 10.0, "cap on the poll interval, hence on detection lag, for overdue "
              "tasks", _SECONDS),
    RunOption("max_backoff", float, 30.0, "cap on the wait before a refused or failed request is tried again "
              "(a local mock needs far less)", _SECONDS),
    RunOption("max_tasks", int, None, "budget: paid tasks at most", _AT_LEAST_1),
    RunOption("max_speech_seconds", float, None, "budget: seconds of speech at most", _SECONDS),
    RunOption("yes", bool, False, "do not ask before sending many paid tasks"),
    RunOption("confirm_over", int, 20, "ask before sending more paid tasks than this",
              (lambda v: v >= 0, "0 or more")),
    RunOption("fail_fast", bool, False, "stop at the first case that does not pass", pytest=False),
    RunOption("max_failures", int, None, "stop after this many cases that do not pass", _AT_LEAST_1, pytest=False),
    RunOption("repeat", int, 1, "run every case N times (finds flaky cases)", _AT_LEAST_1, pytest=False),
    RunOption("resubmit_unknown", bool, False, "on resume, pay again for submits whose answer was lost",
              pytest=False),
)


def option_default(name: str) -> Any:
    return next(opt.default for opt in RUN_OPTIONS if opt.name == name)


def add_options(add: Callable[..., Any], prefix: str = "") -> None:
    """Declare the options with ``add`` (argparse's ``add_argument``, pytest's ``group.addoption``); with a
    prefix, only those a pytest session can honour."""
    for opt in RUN_OPTIONS:
        if prefix and not opt.pytest:
            continue
        if opt.kind is bool:
            add(opt.flag(prefix), action="store_true", default=False, help=opt.help)
        else:
            default = "" if opt.default is None else f" (default {opt.default:g})"
            add(opt.flag(prefix), type=opt.kind, default=opt.default, metavar="N", help=opt.help + default)


def read_options(get: Callable[[str], Any], prefix: str = "") -> dict[str, Any]:
    """Every option's value by ``get(attribute)``, each checked against its limit (one line naming the flag)."""
    out: dict[str, Any] = {}
    for opt in RUN_OPTIONS:
        value = get((prefix + opt.name).replace("-", "_")) if opt.pytest or not prefix else opt.default
        if value is not None and opt.must is not None and not opt.must[0](value):
            raise UsageError(f"{opt.flag(prefix)} must be {opt.must[1]}, got {value:g}")
        out[opt.name] = value
    return out


def run_options(values: Mapping[str, Any], **more: Any) -> RunOptions:
    """The runner's options from :func:`read_options`' values (``more``: the front end's own, e.g. a seed)."""
    from navtalk_sweep.runner import RunOptions

    return RunOptions(
        concurrency=values["concurrency"], submit_rate=values["submit_rate"], case_timeout=values["case_timeout"],
        max_tasks=values["max_tasks"], max_speech_seconds=values["max_speech_seconds"],
        fail_fast=values["fail_fast"], max_failures=values["max_failures"],
        resubmit_unknown=values["resubmit_unknown"], repeat=values["repeat"], first_poll=values["first_poll"],
        dense_interval=values["poll_interval"], max_poll_interval=values["max_poll_interval"],
        deadline_factor=values["deadline_factor"] or None, first_quantile=values["first_poll_quantile"],
        backoff_cap=values["max_backoff"], backoff_base=min(1.0, values["max_backoff"]), **more,
    )


def local_mock(target: Target) -> bool:
    """A loopback target that answers as ``navtalk-sweep mock`` does (a replay in CI, say): nothing is paid."""
    import httpx

    parts = urlsplit(target.generate_url)
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        return False
    try:
        answer = httpx.get(f"{target.generate_url.rsplit('/', 1)[0]}/__admin/calls", timeout=2)
        return answer.status_code == 200 and isinstance(answer.json().get("calls"), dict)
    except (httpx.HTTPError, ValueError, AttributeError):
        return False


def confirm_paid(n_tasks: int, target: Target, values: Mapping[str, Any], prefix: str = "",
                 ask: Callable[[str], str] | None = None) -> None:
    """Before paying for more than ``confirm_over`` tasks: ``yes`` given, or ``ask`` answered yes (on a
    terminal); else a usage error that says how to confirm. Nothing to confirm for a mock."""
    if not target.paid or values["yes"] or n_tasks <= values["confirm_over"] or local_mock(target):
        return
    if ask is None or not sys.stdin.isatty():
        raise UsageError(f"about to send {n_tasks} paid tasks to {target.generate_url}; pass {_flag('yes', prefix)} "
                         f"to confirm (or {_flag('max_tasks', prefix)} N for a budget)")
    answer = ask(f"Send {n_tasks} paid tasks to {target.generate_url}? [y/N] ")
    if answer.strip().lower() not in ("y", "yes"):
        raise UsageError("cancelled: nothing was sent")
