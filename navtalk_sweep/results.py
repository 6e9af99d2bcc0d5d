"""The run directory: the journal (the truth of a run), results.jsonl, and loading a run back.

    reports/<run-id>/
        run.json        what was run: scenario files, target (licence redacted), options, times
        journal.jsonl   every event, appended and flushed before the next action that depends on it
        results.jsonl   one record per case (written at the end; rebuilt from the journal if missing)
        search.json     a search's studies: trials, best settings, importances (study.journal: the studies)
        videos/         downloaded results
        report.html, junit.xml
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TextIO

from navtalk_sweep.errors import RunError
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.runner import CaseFinished, Event, JobState, advance, event_from_dict

__all__ = ["SEARCH", "Journal", "Replayed", "Run", "RunLock", "load_run", "new_run_id", "read_journal", "replay",
           "write_json", "write_meta", "write_results"]

JOURNAL, RESULTS, META, LOCK = "journal.jsonl", "results.jsonl", "run.json", ".lock"
#: what a search found: each study's trials, best setting and the controls' importances (for the report)
SEARCH = "search.json"


class RunLock:
    """One writer per run directory: an exclusive lock held for the life of the process.

    The operating system releases it when the process ends, however it ends, so a SIGKILL
    never leaves a stale lock behind. The file names the holder (pid, host, start time) so
    the second writer's error can say who holds it.
    """

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        self._fh: TextIO | None = None

    def acquire(self) -> Self:
        fh = self.path.open("a+", encoding="utf-8")
        try:
            _lock_file(fh)
        except OSError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise RunError(f"{self.path.parent}: in use by {holder}; wait for it to finish or stop it "
                           "(one writer per run directory)") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()} on {socket.gethostname()} since {datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}\n")
        fh.flush()
        self._fh = fh
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor drops the lock
            self._fh = None

    def __enter__(self) -> Self:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_file(fh: TextIO) -> None:
    """An exclusive, non-blocking lock on an open file; OSError when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        fh.seek(0)
        msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined,unused-ignore]
        return
    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d-%H%M%S-") + os.urandom(2).hex()


def _dump(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line a killed writer left unfinished, so the next event starts a line of its own
    (appended to the torn line, it would be lost with it: :func:`read_journal` skips a torn line)."""
    try:
        with path.open("rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return
            fh.seek(size - 1)
            if fh.read(1) == b"\n":
                return
            keep = size
            while keep > 0:  # back to the last newline, in blocks
                start = max(0, keep - 65536)
                fh.seek(start)
                block = fh.read(keep - start)
                cut = block.rfind(b"\n")
                if cut >= 0:
                    keep = start + cut + 1
                    break
                keep = start
            fh.truncate(keep)
    except FileNotFoundError:
        return


class Journal:
    """Appends events to ``journal.jsonl``, one JSON line each, flushed at once.

    Flushing hands the line to the operating system, which keeps it when the process
    is killed; ``fsync=True`` also survives a machine crash, at a cost per event.
    """

    def __init__(self, run_dir: Path, *, fsync: bool = False) -> None:
        self.path = run_dir / JOURNAL
        _drop_torn_tail(self.path)
        self._fh: TextIO = self.path.open("a", encoding="utf-8")
        self._fsync = fsync

    def __call__(self, event: Event) -> None:
        self._fh.write(_dump(event.as_dict()) + "\n")
        self._fh.flush()
        if self._fsync:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def read_journal(path: Path) -> Iterator[Event]:
    """Events of a journal; a torn last line (the process was killed mid-write) is skipped."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                return  # torn write
            try:
                yield event_from_dict(json.loads(line))
            except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
                raise RunError(f"{path}:{n}: unreadable journal line ({exc})") from None


@dataclass
class Replayed:
    """Each job's state and last records, as the journal tells them."""

    states: dict[str, JobState] = field(default_factory=dict)
    records: dict[str, list[CaseRecord]] = field(default_factory=dict)

    def in_order(self, keys: Iterable[str]) -> list[CaseRecord]:
        """The records of these jobs, in the order given (plan order), skipping jobs with none."""
        return [r for key in keys for r in self.records.get(key, ())]


def replay(events: Iterable[Event]) -> Replayed:
    """What the journal says of each job, through the runner's own transition function."""
    out = Replayed()
    for ev in events:
        key = getattr(ev, "key", None)
        if key is None:
            continue
        advance(out.states.setdefault(key, JobState()), ev)
        if isinstance(ev, CaseFinished):
            out.records[key] = ev.records
    return out


def write_results(run_dir: Path, records: Iterable[CaseRecord]) -> Path:
    """Write ``results.jsonl`` atomically (a reader never sees half a file)."""
    path = run_dir / RESULTS
    tmp = path.with_suffix(".jsonl.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(_dump(rec.to_dict()) + "\n")
    tmp.replace(path)
    return path


def write_meta(run_dir: Path, meta: dict[str, Any]) -> None:
    write_json(run_dir / META, meta)


def write_json(path: Path, data: Any) -> None:
    """Write a JSON file atomically (``run.json``, ``search.json``)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


@dataclass
class Run:
    """A stored run: its metadata and one record per case."""

    path: Path
    meta: dict[str, Any]
    records: list[CaseRecord]
    #: a search's studies as the run left them in ``search.json`` (empty for a grid)
    searches: list[dict[str, Any]] = field(default_factory=list)


def _read_jsonl(path: Path) -> list[CaseRecord]:
    out = []
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise RunError(f"{path}:{n}: not JSON ({exc.msg})") from None
                if not isinstance(record, dict):
                    raise RunError(f"{path}:{n}: expected a JSON object, got {type(record).__name__}")
                try:
                    out.append(CaseRecord.from_dict(record))
                except (TypeError, ValueError) as exc:
                    raise RunError(f"{path}:{n}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read ({exc})") from None
    return out


def _read_searches(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RunError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, list) or not all(isinstance(s, dict) for s in data):
        raise RunError(f"{path}: expected a list of studies")
    return data


def load_run(path: str | os.PathLike[str]) -> Run:
    """A run directory, or a bare ``results.jsonl``; records rebuilt from the journal when needed."""
    p = Path(path)
    if p.is_file():
        return Run(p.parent, {}, _read_jsonl(p))
    if not p.is_dir():
        raise RunError(f"{p}: no such run directory or results file")
    meta: dict[str, Any] = {}
    if (p / META).exists():
        try:
            meta = json.loads((p / META).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunError(f"{p / META}: not JSON ({exc.msg})") from None
    searches = _read_searches(p / SEARCH)
    if (p / RESULTS).exists():
        return Run(p, meta, _read_jsonl(p / RESULTS), searches)
    if (p / JOURNAL).exists():
        replayed = replay(read_journal(p / JOURNAL))
        return Run(p, meta, [r for recs in replayed.records.values() for r in recs], searches)
    raise RunError(f"{p}: not a navtalk-sweep run (no {RESULTS} or {JOURNAL})")
