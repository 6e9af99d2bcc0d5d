"""NavTalk's behaviour as a pure state machine over an injected clock.

The simulator answers ``submit`` and ``query`` with a :class:`Reply`: a status code,
a JSON body and, when the fault plan says so, an HTTP-level fault for the app to
act out (drop the connection, send HTML, ...). It does no I/O and knows no HTTP
library; ``mock_server`` gives it an HTTP face.
"""

from __future__ import annotations

import base64
import binascii
import math
import random
import threading
import uuid
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from navtalk_sweep.cassette import Cassette
from navtalk_sweep.contract import (
    FACE_CONTROLS,
    FACE_FIELDS,
    SPEECH_FIELDS,
    VOICES,
    estimate_text_seconds,
    mode_of,
    redact_request,
    request_id,
)
from navtalk_sweep.errors import ContractViolation
from navtalk_sweep.media import audio_seconds
from navtalk_sweep.record import shared
from navtalk_sweep.simulator._config import Fault, SimulatorConfig
from navtalk_sweep.simulator._faults import FAULT_KINDS, FaultAnswer, FaultStage, RetryAfter, kinds_at
from navtalk_sweep.simulator._replay import Replayer

_HTTP, _TASK, _REJECT = kinds_at(FaultStage.HTTP), kinds_at(FaultStage.TASK), kinds_at(FaultStage.REJECT)

#: reads a media URL the simulator may reach; None when it cannot
MediaFetcher = Callable[[str], bytes | None]


@dataclass(frozen=True)
class Reply:
    """The simulator's answer to one call; ``fault`` names the kind of HTTP fault the app acts out
    (see ``FAULT_KINDS``), ``retry_after`` its seconds when the kind wants a date header."""

    status_code: int
    body: dict[str, Any] | None
    headers: Mapping[str, str] = field(default_factory=dict)
    fault: str | None = None
    delay: float = 0.0
    retry_after: float | None = None
    raw: bytes | None = None  # a recorded answer that was not JSON, sent as it was


def _audio_bytes(raw: str) -> bytes:
    """The audio of an ``audio_base64`` field: strict base64, a ``data:...;base64,`` prefix stripped."""
    if raw.startswith("data:"):
        raw = raw.partition(",")[2]
    return base64.b64decode(raw, validate=True)


@dataclass(slots=True)
class Task:
    task_id: str
    request_id: str
    created_at: float
    duration: float
    processing_at: float
    speech_seconds: float
    fate: str = "done"  # done | failed | never_finish | unknown_status
    message: str | None = None
    unknown_status: str | None = None
    polls: int = 0
    request: dict[str, Any] = field(default_factory=dict)

    def status_at(self, now: float) -> str:
        if now < self.created_at + self.processing_at:
            return "started"
        if now < self.created_at + self.duration or self.fate == "never_finish":
            return "processing"
        if self.fate == "unknown_status":
            return self.unknown_status or "queued"
        return "failed" if self.fate == "failed" else "done"

    def as_dict(self, now: float) -> dict[str, Any]:
        return {"task_id": self.task_id, "request_id": self.request_id, "status": self.status_at(now),
                "created_at": round(self.created_at, 3), "duration": round(self.duration, 3),
                "speech_seconds": self.speech_seconds, "fate": self.fate, "polls": self.polls,
                "request": self.request}




class Simulator:
    """One NavTalk service: tasks, timing, faults and call counters, reproducible by seed."""

    def __init__(self, config: SimulatorConfig | None = None, *, clock: Callable[[], float], seed: int = 0,
                 fetch_media: MediaFetcher | None = None, replay: Cassette | None = None) -> None:
        self.clock = clock
        self.fetch_media = fetch_media
        self.replayer = Replayer(replay, clock) if replay is not None else None
        self._lock = threading.Lock()
        self.reset(config or SimulatorConfig(), seed=seed)

    def reset(self, config: SimulatorConfig | None = None, *, seed: int | None = None) -> None:
        """Forget every task and counter; optionally take a new config and seed."""
        with self._lock:
            if config is not None:
                self.config = config
            if seed is not None:
                self.seed = seed
            self._rng = random.Random(self.seed)
            self.tasks: dict[str, Task] = {}
            self.calls: Counter[str] = Counter()
            self.submits: Counter[str] = Counter()  # by request id
            self._recent_submits: deque[float] = deque()
            # keyed by (position, fault): adding a fault to the plan keeps the counts of the others
            self._fault_hits: Counter[tuple[int, Fault]] = Counter()
            self._fault_seen: Counter[tuple[int, Fault]] = Counter()

    def configure(self, config: SimulatorConfig) -> None:
        """Change behaviour for calls from now on; tasks, counters and fault counts stay."""
        with self._lock:
            self.config = config

    def _error(self, status: int, message: str) -> Reply:
        body = {"status": "error"}
        if self.config.error_field:
            body[self.config.error_field] = message
        return Reply(status, body)

    # -- faults --------------------------------------------------------------------------

    def _pick_fault(self, endpoint: str, body: Mapping[str, Any], kinds: frozenset[str]) -> Fault | None:
        for i, fault in enumerate(self.config.faults):
            if fault.kind not in kinds or fault.endpoint not in (endpoint, "any"):
                continue
            if fault.when is not None and not fault.when.matches(body):
                continue
            key = (i, fault)
            self._fault_seen[key] += 1
            if self._fault_seen[key] <= fault.after:
                continue
            if fault.times is not None and self._fault_hits[key] >= fault.times:
                continue
            if fault.probability < 1.0 and self._rng.random() >= fault.probability:
                continue
            self._fault_hits[key] += 1
            return fault
        return None

    @staticmethod
    def _http_fault(fault: Fault) -> Reply:
        kind = FAULT_KINDS[fault.kind]
        if kind.answer is FaultAnswer.JSON_ERROR:
            assert kind.status is not None
            message = "rate limit exceeded" if kind.status == 429 else f"upstream error {kind.status}"
            headers = {}
            if kind.retry_after is RetryAfter.SECONDS and fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            return Reply(kind.status, {"status": "error", "message": message}, headers, fault=kind.name,
                         retry_after=fault.retry_after)
        return Reply(kind.status or 200, None, fault=kind.name, delay=fault.delay if kind.answer is FaultAnswer.SLOW else 0.0)

    # -- submit ----------------------------------------------------------------------------

    def _speech_seconds(self, body: Mapping[str, Any]) -> float | str:
        """Length of the speech, or why the task must fail (a string)."""
        if body.get("content"):
            return estimate_text_seconds(str(body["content"]))
        if body.get("audio_base64"):
            return audio_seconds(_audio_bytes(str(body["audio_base64"]))) or self.config.unknown_audio_seconds
        url = str(body.get("audio_url", ""))
        data = self.fetch_media(url) if self.fetch_media else None
        if data is None:
            if self.config.unreachable_media == "fail":
                return "could not download audio"
            return self.config.unknown_audio_seconds
        return audio_seconds(data) or self.config.unknown_audio_seconds

    def _normalise(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """What a lenient service would make of a body it does not refuse (the dialect settings)."""
        out = dict(body)
        if self.config.double_source == "first_wins":
            for fields in (FACE_FIELDS, SPEECH_FIELDS):
                present = [f for f in fields if out.get(f) not in (None, "")]
                for extra in present[1:]:
                    del out[extra]
            if out.get("voice") is not None and not out.get("content"):
                del out["voice"]
        if self.config.missing_voice == "default" and out.get("content") and out.get("voice") is None:
            out["voice"] = "alloy"
        return out

    def _validate(self, body: Any) -> tuple[Reply | None, dict[str, Any], str | None]:
        """(a refusal, or None; the body as the service understands it; why the task will fail later)."""
        cfg = self.config
        if not isinstance(body, Mapping):
            return self._error(cfg.reject_status, "request body must be a JSON object"), {}, None
        license = body.get("license")
        if not isinstance(license, str) or not license or (cfg.licenses is not None and license not in cfg.licenses):
            return self._error(cfg.license_status, "invalid license"), {}, None
        for key in (*FACE_FIELDS, *SPEECH_FIELDS, "voice"):
            if key in body and not isinstance(body[key], str):
                return self._error(cfg.reject_status, f"{key} must be a string"), {}, None
            if body.get(key) == "":
                return self._error(cfg.reject_status, f"{key} must not be empty"), {}, None
        fields = self._normalise(body)
        try:
            mode_of(fields)
        except ContractViolation as exc:
            return self._error(cfg.reject_status, str(exc)), {}, None
        later = None
        name = fields.get("character_name")
        for problem in ([f"unknown voice '{fields['voice']}'"] if fields.get("voice", "alloy") not in VOICES else []) + (
                [f"unknown character_name '{name}'"] if name is not None and name not in cfg.characters else []):
            if cfg.unknown_names == "reject":
                return self._error(cfg.reject_status, problem), {}, None
            later = later or problem
        if fields.get("audio_base64") is not None:
            raw = str(fields["audio_base64"])
            if raw.startswith("data:") and cfg.data_uri == "reject":
                return self._error(cfg.reject_status, "audio_base64 must be plain base64, not a data: URI"), {}, None
            try:
                _audio_bytes(raw)
            except (binascii.Error, ValueError):
                return self._error(cfg.reject_status, "audio_base64 is not valid base64"), {}, None
        for control in FACE_CONTROLS.values():  # the contract's own table; null asks for the default
            if fields.get(control.name) is not None:
                why = control.check_type(fields[control.name])
                if why is not None:
                    return self._error(cfg.reject_status, why), {}, None
        return None, fields, later

    def _replayed(self, answer: tuple[int, Any, Mapping[str, str], str | None, float]) -> Reply:
        status, body, headers, raw, late = answer
        if status == 0:
            return Reply(200, None, fault="drop")
        if raw is not None:
            return Reply(status, None, headers, raw=raw.encode(), delay=late)
        return Reply(status, body, headers, delay=late)

    def submit(self, body: Any) -> Reply:
        """``POST /generate``: validate, maybe misbehave, create a task."""
        with self._lock:
            self.calls["generate"] += 1
            fields = body if isinstance(body, Mapping) else {}
            if self.replayer is not None and fields:
                recorded = self.replayer.submit(fields)
                if recorded is not None:
                    self.submits[request_id({k: v for k, v in fields.items() if k != "license"})] += 1
                    return self._replayed(recorded)
                if self.config.replay_unmatched == "refuse":
                    rid = request_id({k: v for k, v in fields.items() if k != "license"})
                    self.calls["unrecorded"] += 1
                    return self._error(404, f"no recording of this request (request id {rid}): record it again, "
                                            "or replay with unrecorded requests simulated")
            limited = self._over_rate_limit()
            if limited is not None:
                return limited
            fault = self._pick_fault("submit", fields, _HTTP)
            if fault is not None and not FAULT_KINDS[fault.kind].after_create:
                return self._http_fault(fault)
            rejected, understood, fail_later = self._validate(body)
            if rejected is not None:
                return rejected
            reject = self._pick_fault("submit", fields, _REJECT)
            if reject is not None:
                return self._error(self.config.reject_status, reject.message)
            task = self._create(fields, understood, fail_later)
            answer: dict[str, Any] = {"status": "started", "task_id": task.task_id}
            if self.config.extra_fields:
                answer |= {"queue_position": len(self.tasks), "api_version": "mock-1"}
            if fault is not None:  # the task exists, but the answer is lost or late
                reply = self._http_fault(fault)
                if FAULT_KINDS[fault.kind].answer is not FaultAnswer.SLOW:
                    return reply
                return Reply(200, answer, delay=reply.delay)
            return Reply(200, answer)

    def _over_rate_limit(self) -> Reply | None:
        """A sliding one-second window over submits, as a real gateway would keep."""
        limit = self.config.max_submits_per_second
        if limit is None:
            return None
        now = self.clock()
        window = self._recent_submits
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= limit:
            wait = max(0.001, window[0] + 1.0 - now)
            return Reply(429, {"status": "error", "message": "rate limit exceeded"},
                         {"Retry-After": str(max(1, math.ceil(wait)))})
        window.append(now)
        return None

    def _create(self, sent: Mapping[str, Any], body: Mapping[str, Any], fail_later: str | None) -> Task:
        """A task for ``body`` (what the service understood of the ``sent`` one)."""
        rid = request_id(sent)
        self.submits[rid] += 1
        task_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        speech = self._speech_seconds(body) if fail_later is None else fail_later
        duration = self.config.timing.duration(speech if isinstance(speech, float) else 1.0, self._rng)
        task = Task(task_id, rid, self.clock(), duration, duration * self.config.timing.processing_at,
                    speech if isinstance(speech, float) else 0.0, request=shared(redact_request(sent)))
        if isinstance(speech, str):
            task.fate, task.message = "failed", speech
        else:
            fate = self._pick_fault("submit", body, _TASK)
            if fate is not None:
                task.fate = {"task_failed": "failed"}.get(fate.kind, fate.kind)
                task.message = fate.message
                task.unknown_status = fate.status
        self.tasks[task_id] = task
        while len(self.tasks) > max(1, self.config.max_tasks_kept):
            del self.tasks[next(iter(self.tasks))]  # the oldest (dicts keep insertion order)
            self.calls["tasks_forgotten"] += 1
        return task

    # -- query -----------------------------------------------------------------------------

    def query(self, license: str | None, task_id: str | None) -> Reply:
        """``GET /query_status``: where the task is now."""
        with self._lock:
            self.calls["query_status"] += 1
            if self.replayer is not None and task_id:
                recorded = self.replayer.query(task_id)
                if recorded is not None:
                    return self._replayed(recorded)
            task = self.tasks.get(task_id or "")
            fields = dict(task.request) if task else {}
            fault = self._pick_fault("query", fields, _HTTP)
            if fault is not None and FAULT_KINDS[fault.kind].answer is not FaultAnswer.SLOW:
                return self._http_fault(fault)
            delay = fault.delay if fault is not None else 0.0
            if not license or (self.config.licenses is not None and license not in self.config.licenses):
                return self._error(self.config.license_status, "invalid license")
            if task is None:
                if self.config.unknown_task == "failed":
                    return Reply(200, {"status": "failed"})
                return self._error(self.config.not_found_status, "task not found")
            task.polls += 1
            status = task.status_at(self.clock())
            body: dict[str, Any] = {"status": status}
            if status == "done":
                body["video_url"] = f"/results/{task.task_id}.mp4?sv=2025-01-01&sig=mock-signature"
            elif status == "failed" and self.config.error_field:
                body[self.config.error_field] = task.message or "synthesis failed"
            if self.config.extra_fields:
                body |= {"progress": min(1.0, round((self.clock() - task.created_at) / task.duration, 3)),
                         "task_id": task.task_id}
            return Reply(200, body, delay=delay)

    def forget_tasks(self) -> None:
        """Drop every task, keeping the counts (calls, submits): a finished run's in-process mock is never
        polled again, and its end needs the memory (50,000 tasks with their requests are about 50 MB)."""
        self.tasks.clear()

    # -- inspection --------------------------------------------------------------------------

    def task(self, task_id: str) -> Task | None:
        return self.tasks.get(task_id)

    def snapshot(self) -> dict[str, Any]:
        """Tasks and counters as plain data (the admin endpoint and tests read it)."""
        with self._lock:
            now = self.clock()
            return {
                "now": round(now, 3),
                "seed": self.seed,
                "calls": dict(self.calls),
                "submits": dict(self.submits),
                "tasks": [t.as_dict(now) for t in self.tasks.values()],
            }

    def count_call(self, endpoint: str) -> None:
        with self._lock:
            self.calls[endpoint] += 1
