"""Cassettes: every exchange of a run with NavTalk, kept to be replayed offline.

``run --record`` appends one line per exchange to ``RUN_DIR/cassette.jsonl``: which
endpoint, the request id (the submit body without the licence) or task id, the answer
(status, the headers that matter, the body) or that the connection broke, and its time:
a submit's seconds since the first submit of that request, a poll's seconds since its
task's submit. Licences and URL signatures are redacted when the line is written.

Replaying (``navtalk-sweep mock --replay RUN_DIR``, ``navtalk_mock(replay=...)``) answers
a recorded request with its recorded task: the same answers in the same order, each
poll answered with what the service said at that moment of the task's life.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from navtalk_sweep.contract import redact, request_id
from navtalk_sweep.record import CaseRecord

__all__ = ["CASSETTE", "Cassette", "CassetteWriter", "Exchange", "read_cassette", "redact_url_secrets"]

CASSETTE = "cassette.jsonl"
#: headers worth keeping: what a client decides on
KEPT_HEADERS = ("content-type", "retry-after")
_SIGNED = re.compile(r"((?:[?&])(?:license|sig|signature|token|key|x-amz-signature|x-goog-signature)=)[^&\s\"']+",
                     re.IGNORECASE)


def redact_url_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with licences and URL signature parameters masked."""
    return redact(_SIGNED.sub(r"\1***", text), tuple(secrets))


def redact_record(record: CaseRecord, secrets: Iterable[str] = ()) -> CaseRecord:
    """A record safe to commit with a recording: URL signatures and licences masked wherever a URL or a
    message can carry them (the result URL, the request's URLs, errors)."""
    def clean(value: Any) -> Any:
        return redact_url_secrets(value, secrets) if isinstance(value, str) else value

    return record.replace(video_url=clean(record.video_url), error=clean(record.error),
                          fetch_error=clean(record.fetch_error),
                          request={k: clean(v) for k, v in record.request.items()})


@dataclass(frozen=True)
class Exchange:
    """One request and what came back."""

    endpoint: str  # "generate" or "query_status"
    t: float
    request_id: str | None = None
    task_id: str | None = None
    status: int | None = None  # None: the connection broke before an answer
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""
    request: Mapping[str, Any] | None = None  # a submit's body, licence left out, for people
    took: float | None = None  # seconds until the answer (a slow service is replayed slow)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, {}, "")} | {"t": self.t}


class CassetteWriter:
    """Appends exchanges to a run's cassette, redacted, one flushed line each."""

    def __init__(self, run_dir: Path, secrets: Iterable[str] = ()) -> None:
        self.path = run_dir / CASSETTE
        self._secrets = tuple(s for s in secrets if s)
        self._fh: TextIO = self.path.open("a", encoding="utf-8")

    def __call__(self, exchange: Exchange) -> None:
        # redacted field by field, before encoding: a pattern run over the encoded line could eat an escape
        line = json.dumps(self._redacted(exchange.as_dict()), ensure_ascii=False, separators=(",", ":"))
        self._fh.write(line + "\n")
        self._fh.flush()

    def _redacted(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact_url_secrets(value, self._secrets)
        if isinstance(value, Mapping):
            return {k: self._redacted(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._redacted(v) for v in value]
        return value

    def close(self) -> None:
        self._fh.close()


def read_cassette(path: str | os.PathLike[str]) -> list[Exchange]:
    """The exchanges of a cassette file (a torn last line is skipped)."""
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            data = json.loads(line)
            out.append(Exchange(**{k: v for k, v in data.items() if k in Exchange.__dataclass_fields__}))
    return out


@dataclass
class Cassette:
    """Recorded exchanges indexed for replay: submits by request id, polls by task id, in time order."""

    submits: dict[str, list[Exchange]] = field(default_factory=dict)
    polls: dict[str, list[Exchange]] = field(default_factory=dict)
    videos: dict[str, bytes] = field(default_factory=dict)  # task id -> the recorded result video

    @classmethod
    def load(cls, run_dirs: Iterable[str | os.PathLike[str]]) -> Cassette:
        out = cls()
        for run_dir in map(Path, run_dirs):
            path = run_dir / CASSETTE if run_dir.is_dir() else run_dir
            if not path.is_file():
                raise FileNotFoundError(f"{run_dir}: no {CASSETTE} (record with: navtalk-sweep run ... --record)")
            for ex in read_cassette(path):
                if ex.endpoint == "generate" and ex.request_id:
                    out.submits.setdefault(ex.request_id, []).append(ex)
                    # a cassette of an earlier version named an uploaded file by its address (host and port
                    # included): its request, named as today, replays anywhere too
                    now = request_id(ex.request) if ex.request else ex.request_id
                    if now != ex.request_id:
                        out.submits.setdefault(now, []).append(ex)
                elif ex.endpoint == "query_status" and ex.task_id:
                    out.polls.setdefault(ex.task_id, []).append(ex)
            results = path.parent / "results.jsonl"
            if results.is_file():
                for line in results.read_text(encoding="utf-8").splitlines():
                    rec = json.loads(line)
                    video = rec.get("video")
                    if rec.get("task_id") and video and (path.parent / video).is_file():
                        out.videos[rec["task_id"]] = (path.parent / video).read_bytes()
        for polls in out.polls.values():
            polls.sort(key=lambda e: e.t)
        return out
