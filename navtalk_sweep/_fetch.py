"""From a done task's result URL to the record's video fields: the video downloaded and kept by its
content, probed, and measured against the face the case sent.

Work is done once per content: identical videos (the mock's placeholders, a simulator's repeats) are
stored once, probed once, and measured once per face and request.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from navtalk_sweep._measure import measure_video
from navtalk_sweep.analysis import pool
from navtalk_sweep.client import AsyncNavTalkClient
from navtalk_sweep.errors import ClientError, InvalidArgument
from navtalk_sweep.media import have_av, is_placeholder, probe_video
from navtalk_sweep.record import shared
from navtalk_sweep.results import RunDirectory
from navtalk_sweep.scenario import Case

__all__ = ["Fetcher", "face_url"]


def face_url(case: Case) -> str | None:
    """The face the case's request sends as a URL (a local file's ``media://`` token, looked up in
    ``case.files``), or None for a built-in character."""
    return next((str(case.request[f]) for f in ("image_url", "video_url") if case.request.get(f)), None)


class Fetcher:
    """``await fetcher(key, url)``: the record fields of job ``key``'s result video at ``url``.

    ``cases`` maps job keys to their cases and may grow as the run goes (a search adds its jobs'). With
    ``measure``, each video is measured in the analysis pool (a thread when it is off): a second of face
    mesh per video must not stall the polls of other tasks.
    """

    def __init__(self, client: AsyncNavTalkClient, directory: RunDirectory, cases: Mapping[str, Case], *,
                 measure: bool) -> None:
        self.client, self.dir, self.cases, self.measure = client, directory, cases, measure
        self._faces: dict[str, asyncio.Future[Path | None]] = {}
        self._probed: dict[str, dict[str, Any]] = {}
        self._placeholder: dict[str, bool] = {}
        self._measured: dict[tuple[str, ...], asyncio.Future[dict[str, Any]]] = {}

    async def __call__(self, key: str, url: str) -> dict[str, Any]:
        sink = self.dir.video_sink(key)
        try:
            size = await self.client.stream_into(url, sink.write)
        except BaseException:
            sink.discard()
            raise
        dest = sink.close()
        digest = dest.stem
        # named by content: many records of a sweep name the same few files, and share the name
        out: dict[str, Any] = {"video": sys.intern(f"videos/{dest.name}"), "video_bytes": size}
        if have_av():
            if digest not in self._probed:
                self._probed[digest] = probe_video(str(dest)).as_dict()
            out["facts"] = self._probed[digest]  # read-only: every record of this content shares it
        if self.measure:
            found = await self._measure(key, dest)
            out.update({k: shared(v) if isinstance(v, dict) else v for k, v in found.items()})  # a copy each
        return out

    async def _measure(self, key: str, video: Path) -> dict[str, Any]:
        digest = video.stem
        if digest not in self._placeholder:
            self._placeholder[digest] = is_placeholder(str(video)) if have_av() else False
        placeholder = self._placeholder[digest]
        face = None if placeholder else await self._face_of(key)
        case = self.cases.get(key)
        sent = dict(case.request) if case is not None and not placeholder else None
        which = (digest, str(face), json.dumps(sent, sort_keys=True, default=str))
        if which not in self._measured:
            work = functools.partial(measure_video, video, self.dir.path, face, sent)
            # a placeholder only says so: no worker process is worth starting for it
            self._measured[which] = asyncio.ensure_future(
                asyncio.to_thread(work) if placeholder else asyncio.to_thread(pool.call, work))
        # shielded: a case cancelled while waiting (its timeout) must not cancel its twins' measure
        return await asyncio.shield(self._measured[which])

    async def _face_of(self, key: str) -> Path | None:
        """The face file the case sent: its local file, or its URL downloaded once per run."""
        case = self.cases.get(key)
        url = face_url(case) if case is not None else None
        if case is None or url is None:
            return None
        if url in case.files:
            return Path(case.files[url])
        if not url.startswith(("http://", "https://")):
            return None
        if url not in self._faces:
            self._faces[url] = asyncio.ensure_future(self._download_face(url))
        return await asyncio.shield(self._faces[url])  # shared by every case of this face

    async def _download_face(self, url: str) -> Path | None:
        dest = self.dir.face_file(url)
        dest.parent.mkdir(exist_ok=True)
        try:
            await self.client.download(url, dest)
        except (ClientError, InvalidArgument):
            return None
        return dest
