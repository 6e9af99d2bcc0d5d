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

import hashlib
import json
import os
import socket
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Self, TextIO

from navtalk_sweep.errors import RunError
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.runner import CaseFinished, Event, JobState, advance, event_from_dict

__all__ = ["SEARCH", "Journal", "Replayed", "Run", "RunDirectory", "RunLock", "RunMeta", "VideoSink", "finished_records", "in_order",
           "load_run", "new_run_id", "read_journal", "replay", "write_json", "write_meta", "write_results"]

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


def read_journal(path: Path, only: type[Event] | None = None) -> Iterator[Event]:
    """Events of a journal (``only`` those of one kind); a torn last line (the process was killed
    mid-write) is skipped."""
    if not path.exists():
        return
    # a line that does not name the kind cannot be one: not decoded (four of five lines are polls)
    named = f'"{only.__name__}"' if only is not None else ""
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                return  # torn write
            if named not in line:
                continue
            try:
                event = event_from_dict(json.loads(line))
            except (KeyError, TypeError, ValueError) as exc:  # JSONDecodeError is a ValueError
                raise RunError(f"{path}:{n}: unreadable journal line ({exc})") from None
            if only is None or isinstance(event, only):
                yield event


@dataclass
class Replayed:
    """Each job's state and last records, as the journal tells them."""

    states: dict[str, JobState] = field(default_factory=dict)
    records: dict[str, list[CaseRecord]] = field(default_factory=dict)


def finished_records(path: Path) -> dict[str, list[CaseRecord]]:
    """Each job's last records, as the journal tells them: only its ``CaseFinished`` lines are read
    (what a finished run needs; :func:`replay` also rebuilds every job's state)."""
    out: dict[str, list[CaseRecord]] = {}
    for event in read_journal(path, CaseFinished):
        if isinstance(event, CaseFinished):
            out[event.key] = event.records
    return out


def in_order(records: Mapping[str, list[CaseRecord]], keys: Iterable[str]) -> list[CaseRecord]:
    """The records of these jobs, in the order given (plan order), skipping jobs with none."""
    return [r for key in keys for r in records.get(key, ())]


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
class RunMeta:
    """``run.json``, typed: what was run, where to and how, and how it ended. Keys another version wrote
    are kept in ``extra`` and written back."""

    run_id: str
    scenario_files: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    shard: tuple[int, int] = (0, 1)
    #: where requests went (licence redacted); for the bundled mock also its clock, seed, settings, recordings
    target: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    status: str = "running"
    started_at: str | None = None
    finished_at: str | None = None
    stop_reason: str | None = None
    recorded: bool = False
    resumed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    mock_calls: dict[str, int] | None = None
    study_storage: str | None = None  # a search's study storage (a database password masked)
    choose: dict[str, Any] = field(default_factory=dict)  # what "best" means per scenario
    tolerances: dict[str, Any] = field(default_factory=dict)  # how much a measure may worsen, per scenario
    measures: dict[str, int] = field(default_factory=dict)  # measures computed otherwise than at first (revisions)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def target_kind(self) -> str | None:
        kind = self.target.get("kind")
        return str(kind) if kind is not None else None

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: Path | str = META) -> RunMeta:
        known = {f.name for f in fields(cls)} - {"extra"}
        kept = {k: v for k, v in data.items() if k in known}
        try:
            if "shard" in kept:
                index, count = kept["shard"]
                kept["shard"] = (int(index), int(count))
            kept.setdefault("run_id", "")
            return cls(**kept, extra={k: v for k, v in data.items() if k not in known})
        except (TypeError, ValueError) as exc:
            raise RunError(f"{where}: not a run.json this version reads ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        out["shard"] = list(self.shard)
        return {**out, **self.extra}


class VideoSink:
    """A video on its way into ``videos/``, kept under its content's digest, ``videos/<sha256 16 hex>.mp4``:
    identical bytes are stored once (50,000 cases of the mock's two placeholders were 1.4 GB of copies),
    every record still names its own video; same bytes, same name, on every run and machine.

    Hashed as it arrives and held in memory up to ``MEMORY`` bytes (beyond, in a part file), so bytes already
    stored are never written again: 50,000 placeholder downloads were 2 GB written and deleted. The bound is
    small because hundreds of downloads may be under way at once; a real result is larger and is written.
    ``close()`` stores and names it; ``discard()`` drops it (a failed download).
    """

    MEMORY = 256 << 10

    def __init__(self, videos: Path, key: str) -> None:
        self._videos, self._part = videos, videos / f".{key}.part"
        self._digest = hashlib.sha256()
        self._held: list[bytes] = []
        self._size = 0
        self._file: BinaryIO | None = None

    def write(self, chunk: bytes) -> None:
        self._digest.update(chunk)
        self._size += len(chunk)
        if self._file is None:
            if self._size <= self.MEMORY:
                self._held.append(chunk)
                return
            self._file = self._spill()
        self._file.write(chunk)

    def _spill(self) -> BinaryIO:
        """What is held so far, in the part file, open for the rest."""
        self._videos.mkdir(parents=True, exist_ok=True)
        file = self._part.open("wb")
        file.writelines(self._held)
        self._held = []
        return file

    def close(self) -> Path:
        dest = self._videos / f"{self._digest.hexdigest()[:16]}.mp4"
        if dest.exists():
            self.discard()  # those bytes are kept already
            return dest
        (self._file or self._spill()).close()
        self._part.replace(dest)  # whole or not at all: a reader never sees half a video under its name
        return dest

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
        self._part.unlink(missing_ok=True)
        self._held = []


class RunDirectory:
    """One run's directory: every file a run keeps, by name, and the one way to read or write each.

    The session composes a run through it and never spells a file name; ``--resume`` and a Python
    caller read the same typed :class:`RunMeta` back.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.journal_file = self.path / JOURNAL
        self.results_file = self.path / RESULTS
        self.meta_file = self.path / META
        self.search_file = self.path / SEARCH
        self.videos = self.path / "videos"
        self.faces = self.path / "faces"

    def holds_run(self) -> bool:
        return self.results_file.exists() or self.journal_file.exists()

    def face_file(self, url: str) -> Path:
        """Where the face at ``url`` is kept once downloaded (once per run, for the change measures)."""
        return self.faces / hashlib.sha256(url.encode()).hexdigest()[:16]

    def video_sink(self, key: str) -> VideoSink:
        """Where job ``key``'s video goes as it downloads: see :class:`VideoSink`."""
        return VideoSink(self.videos, key)

    def store_video(self, path: Path) -> Path:
        """Keep a copy of the video file at ``path`` as :class:`VideoSink` keeps a download."""
        sink = VideoSink(self.videos, path.stem)
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                sink.write(chunk)
        return sink.close()

    def read_meta(self) -> RunMeta:
        try:
            data = json.loads(self.meta_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise RunError(f"{self.path}: cannot resume: no readable {META} ({exc})") from None
        if not isinstance(data, dict):
            raise RunError(f"{self.meta_file}: expected a JSON object")
        return RunMeta.from_dict(data, self.meta_file)

    def write_meta(self, meta: RunMeta) -> None:
        write_json(self.meta_file, meta.to_dict())

    def replayed(self) -> Replayed:
        """What the journal says of each job (nothing when there is no journal yet)."""
        return replay(read_journal(self.journal_file))

    def finished_records(self) -> dict[str, list[CaseRecord]]:
        """Each job's last records (nothing when there is no journal yet)."""
        return finished_records(self.journal_file)

    def lock(self) -> RunLock:
        return RunLock(self.path)

    def open_journal(self) -> Journal:
        return Journal(self.path)

    def write_results(self, records: Iterable[CaseRecord]) -> Path:
        return write_results(self.path, records)

    def write_search(self, studies: list[dict[str, Any]]) -> None:
        write_json(self.search_file, studies)

    def run(self) -> Run:
        """The run as stored (records from results.jsonl, else the journal)."""
        return load_run(self.path)


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


def load_run(path: str | os.PathLike[str], records: list[CaseRecord] | None = None) -> Run:
    """A run directory, or a bare ``results.jsonl``; records rebuilt from the journal when needed.

    ``records``: the run's records when the caller holds them (the session that just wrote them),
    not read a second time: at 50,000 cases a second copy is 100 MB.
    """
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
    if records is not None:
        return Run(p, meta, records, searches)
    if (p / RESULTS).exists():
        return Run(p, meta, _read_jsonl(p / RESULTS), searches)
    if (p / JOURNAL).exists():
        return Run(p, meta, [r for recs in finished_records(p / JOURNAL).values() for r in recs], searches)
    raise RunError(f"{p}: not a navtalk-sweep run (no {RESULTS} or {JOURNAL})")
