"""The HTTP behaviour of the mock, written once: request in, :class:`HttpReply` out.

Every transport (ASGI under uvicorn, the in-process httpx transport, respx routes)
is a thin adapter over :meth:`MockService.handle`; domain behaviour is the
simulator's, status codes and broken bodies are this module's.
"""

from __future__ import annotations

import ipaddress
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from mock_server.openapi import openapi_document
from mock_server.video import face_url, result_video, simulated_video
from navtalk_sweep.contract import redact
from navtalk_sweep.errors import NavTalkSweepError
from navtalk_sweep.simulator import FAULT_KINDS, FaultAnswer, Reply, RetryAfter, Simulator, SimulatorConfig

JSON = "application/json"
_SECRET_PARAMS = re.compile(r"((?:license|sig|signature|token|key)=)[^&]+", re.IGNORECASE)
#: submitted base64 speech kept for rendering results (the newest tasks')
KEEP_AUDIO = 256
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+$")


#: where result videos are served; answering there may render one (seconds): adapters answer it off their loop
RESULTS = "/results/"


@dataclass
class HttpReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without a complete answer
    delay: float = 0.0  # wait this long (on the service's clock) before answering


def _json(status: int, data: Any, headers: Mapping[str, str] | None = None) -> HttpReply:
    return HttpReply(status, json.dumps(data).encode(), {"content-type": JSON, **(headers or {})})


def _is_loopback(host: str | None) -> bool:
    if host in (None, ""):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class MockService:
    """The mock NavTalk as HTTP: routes, admin endpoints, media, result videos."""

    def __init__(self, simulator: Simulator, *, media_dir: str | Path | None = None,
                 http_get: Callable[[str], bytes | None] | None = None,
                 advance_clock: Callable[[float], object] | None = None) -> None:
        self.simulator = simulator
        self.media_dir = Path(media_dir).resolve() if media_dir else None
        self.uploads: dict[str, bytes] = {}
        self._http_get = http_get
        self.advance_clock = advance_clock
        simulator.fetch_media = self.fetch_media
        self.log: Callable[[str], None] | None = None
        #: render results from the request's face when it can be seen (the face extra); else placeholders
        self.render_faces = True
        #: ... in the analysis pool's workers when this process has them (``analysis.pool``): in-process, a
        #: run's; the standalone server renders in its own threads (its workers would outlive a killed server)
        self.render_in_pool = True
        # the task's request keeps base64 audio shortened; the renderer needs it whole, for recent tasks
        self._audio: OrderedDict[str, str] = OrderedDict()

    # -- media the mock can reach -------------------------------------------------------

    def _local_media(self, name: str) -> bytes | None:
        if name in self.uploads:
            return self.uploads[name]
        if self.media_dir is not None:
            path = (self.media_dir / name).resolve()
            if path.is_relative_to(self.media_dir) and path.is_file():
                return path.read_bytes()
        return None

    def answers_at_once(self, path: str) -> bool:
        """Whether a request for ``path`` is answered without seconds of work: all but a result the mock may
        render (its face is one the mock can fetch), which the in-process transport answers in a thread. A
        placeholder is encoded once per length (tens of ms), then served from memory: a thread hop for each
        of 50,000 was a tenth of a large run's CPU."""
        if not path.startswith(RESULTS) or not self.render_faces:
            return True
        task = self.simulator.task(path[len(RESULTS):].removesuffix(".mp4"))
        url = face_url(task.request) if task is not None else None
        if url is None:
            return True
        parts = urlsplit(url)
        return not (parts.path.startswith("/media/") or self._over_loopback(parts))

    def fetch_media(self, url: str) -> bytes | None:
        """Bytes of a media URL when the mock can reach it: its own files, or loopback."""
        parts = urlsplit(url)
        if parts.path.startswith("/media/"):
            data = self._local_media(parts.path[len("/media/"):])
            if data is not None:
                return data
        if self._over_loopback(parts):
            return self._http_get(url) if self._http_get is not None else None
        return None

    def _over_loopback(self, parts: SplitResult) -> bool:
        """Whether :meth:`fetch_media` asks for the URL over HTTP: a loopback host, and a way to ask."""
        return _is_loopback(parts.hostname) and self._http_get is not None

    # -- the one entry point ---------------------------------------------------------------

    def handle(self, method: str, path: str, query: str, body: bytes, base_url: str) -> HttpReply:
        reply = self._route(method, path, parse_qs(query), body, base_url.rstrip("/"))
        if self.log is not None:
            # licences and URL signatures never reach a log line
            shown = redact(re.sub(_SECRET_PARAMS, r"\1***", f"{path}?{query}" if query else path))
            self.log(f"{method} {shown} -> {'drop' if reply.drop else reply.status}")
        return reply

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes, base: str) -> HttpReply:
        if path == "/generate" and method == "POST":
            return self._submit(body, base)
        if path == "/query_status" and method == "GET":
            reply = self.simulator.query(query.get("license", [None])[0], query.get("task_id", [None])[0])
            return self._render(reply, base)
        if path.startswith(RESULTS) and method in ("GET", "HEAD"):
            return self._result(path[len(RESULTS):])
        if path.startswith("/media/") and method in ("GET", "HEAD"):
            self.simulator.count_call("media")
            data = self._local_media(path[len("/media/"):])
            return HttpReply(200, data, {"content-type": "application/octet-stream"}) if data is not None \
                else _json(404, {"status": "error", "message": "no such media"})
        if path == "/openapi.json" and method == "GET":
            return _json(200, openapi_document(base, self.simulator.config.characters))
        if path.startswith("/__admin/"):
            return self._admin(method, path[len("/__admin/"):], body)
        if path in ("/generate", "/query_status"):
            return _json(405, {"status": "error", "message": f"method {method} not allowed"}, {"allow":
                         "POST" if path == "/generate" else "GET"})
        return _json(404, {"status": "error", "message": f"no such endpoint {path}"})

    def _submit(self, raw: bytes, base: str) -> HttpReply:
        try:
            body = json.loads(raw or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            self.simulator.count_call("generate")
            return _json(self.simulator.config.reject_status,
                         {"status": "error", "message": "request body is not valid JSON"})
        reply = self.simulator.submit(body)
        task_id = (reply.body or {}).get("task_id") if isinstance(reply.body, dict) else None
        if self.render_faces and task_id and isinstance(body, dict) and isinstance(body.get("audio_base64"), str):
            self._audio[str(task_id)] = body["audio_base64"]
            while len(self._audio) > KEEP_AUDIO:
                self._audio.popitem(last=False)
        return self._render(reply, base)

    def _render(self, reply: Reply, base: str) -> HttpReply:
        if reply.raw is not None:
            return HttpReply(reply.status_code, reply.raw, dict(reply.headers))
        kind = FAULT_KINDS.get(reply.fault or "")
        answer = kind.answer if kind is not None else None
        if answer is FaultAnswer.DROP:
            return HttpReply(200, drop=True)
        if answer is FaultAnswer.TORN_JSON:
            return HttpReply(reply.status_code, b'{"status": "started", "task_id": ', {"content-type": JSON})
        if answer is FaultAnswer.HTML_PAGE:
            code = reply.status_code
            page = f"<html><head><title>{code} Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"
            return HttpReply(code, page.encode(), {"content-type": "text/html"})
        headers = dict(reply.headers)
        if kind is not None and kind.retry_after is RetryAfter.HTTP_DATE and reply.retry_after is not None:
            # a date on the wall clock, rounded up: a client never comes back before it is due
            headers["Retry-After"] = formatdate(math.ceil(time.time() + reply.retry_after), usegmt=True)
        body = dict(reply.body or {})
        if isinstance(body.get("video_url"), str) and body["video_url"].startswith("/"):
            body["video_url"] = base + body["video_url"]
        out = _json(reply.status_code, body, headers)
        out.delay = reply.delay
        return out

    def _result(self, name: str) -> HttpReply:
        self.simulator.count_call("results")
        replayer = self.simulator.replayer
        recorded = replayer.video(name.removesuffix(".mp4")) if replayer is not None else None
        if recorded is not None:
            return HttpReply(200, recorded, {"content-type": "video/mp4"})
        task = self.simulator.task(name.removesuffix(".mp4"))
        if task is None or task.status_at(self.simulator.clock()) != "done":
            return _json(404, {"status": "error", "message": "no such result"})
        video = simulated_video(task.request, task.speech_seconds, self.fetch_media, self._audio.get(task.task_id),
                                pooled=self.render_in_pool) if self.render_faces else None
        return HttpReply(200, video or result_video(task.speech_seconds), {"content-type": "video/mp4"})

    def _admin(self, method: str, what: str, raw: bytes) -> HttpReply:
        sim = self.simulator
        try:
            data = json.loads(raw) if raw and method in ("POST", "PUT") and not what.startswith("media/") else {}
        except json.JSONDecodeError:
            return _json(400, {"status": "error", "message": "admin body is not valid JSON"})
        try:
            if what == "reset" and method == "POST":
                config = SimulatorConfig.from_dict(data["config"]) if "config" in data else None
                sim.reset(config, seed=data.get("seed"))
                self.uploads.clear()
                return _json(200, {"status": "ok"})
            if what == "config" and method == "GET":
                return _json(200, sim.config.as_dict())
            if what == "config" and method == "POST":
                sim.configure(SimulatorConfig.from_dict(data))
                return _json(200, sim.config.as_dict())
            if what == "tasks" and method == "GET":
                return _json(200, sim.snapshot()["tasks"])
            if what == "calls" and method == "GET":
                snap = sim.snapshot()
                return _json(200, {"calls": snap["calls"], "submits": snap["submits"]})
            if what == "clock" and method == "POST":
                if self.advance_clock is None:
                    return _json(409, {"status": "error", "message": "this mock runs on the real clock"})
                self.advance_clock(float(data.get("advance", 0)))
                return _json(200, {"now": sim.clock()})
            if what.startswith("media/") and method == "PUT":
                name = what[len("media/"):]
                if not _SAFE_NAME.match(name):
                    return _json(400, {"status": "error", "message": "media name must be DIGEST/FILENAME"})
                self.uploads[name] = raw
                return _json(200, {"status": "ok", "path": f"/media/{name}"})
        except (NavTalkSweepError, KeyError, TypeError, ValueError) as exc:
            return _json(400, {"status": "error", "message": str(exc)})
        return _json(404, {"status": "error", "message": f"no such admin endpoint {method} /__admin/{what}"})
