"""Run a piece of code in a forked child with a memory and time cap: a regression to unbounded work
fails fast in the test instead of hanging the suite (or the machine)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    code: int | None  # what ``fn`` returned; None when it was stopped or raised
    out: str
    err: str
    stopped: str = ""  # "memory", "time" or the exception's type, when it did not return
    grew: int = 0  # bytes: the child's peak resident memory over what it started with


def proc_status(field: str) -> int:
    """A memory field of /proc/self/status (VmSize, VmRSS, VmHWM...) in bytes (Linux)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def bounded(fn: Callable[[], int], *, memory: int = 256 * 2**20, seconds: int = 20) -> Outcome:
    """``fn()`` in a child allowed ``memory`` bytes more than it starts with and ``seconds`` of CPU.

    The child's peak is read from the kernel (VmHWM starts afresh at a fork), not traced: tracing every
    allocation made the hostile-size examples four times slower.
    """
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read)
        result: dict[str, object] = {"code": None, "stopped": ""}
        out, err = io.StringIO(), io.StringIO()
        try:
            cap = proc_status("VmSize") + memory
            start = proc_status("VmRSS")
            resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
            resource.setrlimit(resource.RLIMIT_CPU, (seconds, seconds + 1))
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                result["code"] = fn()
            result["grew"] = proc_status("VmHWM") - start
        except MemoryError:
            result["stopped"] = "memory"
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            result["stopped"] = f"{type(exc).__name__}: {exc}"
        result["out"], result["err"] = out.getvalue(), err.getvalue()
        with os.fdopen(write, "w", encoding="utf-8") as pipe:
            json.dump(result, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        text = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return Outcome(None, "", "", "time" if sig in (signal.SIGXCPU, signal.SIGKILL) else f"signal {sig}")
    data = json.loads(text)
    return Outcome(data["code"], data["out"], data["err"], data["stopped"], data.get("grew", 0))
