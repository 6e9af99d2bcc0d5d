"""One NavTalk, two transports: respx in-process and HTTP over loopback, same seed, same answers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from mock_server import create_service
from navtalk_sweep.clock import ManualClock
from navtalk_sweep.mock import NavTalkMock
from tests.servers import serve_in_thread


@dataclass
class Navtalk:
    """What a transport-agnostic test needs: a client, the two URLs, and a way to move time."""

    http: httpx.Client
    generate_url: str
    status_url: str
    advance: Callable[[float], object]
    configure: Callable[[dict], object]
    calls: Callable[[], dict]
    tasks: Callable[[], list]

    def submit(self, body: dict) -> httpx.Response:
        return self.http.post(self.generate_url, json=body)

    def status(self, license: str, task_id: str) -> httpx.Response:
        return self.http.get(self.status_url, params={"license": license, "task_id": task_id})


SEED = 7


@pytest.fixture(params=["respx", "http"])
def navtalk(request) -> Iterator[Navtalk]:
    if request.param == "respx":
        with NavTalkMock(seed=SEED) as mock, httpx.Client() as http:
            yield Navtalk(http, "https://app.navtalk.ai/generate", "https://api.navtalk.ai/query_status",
                          mock.advance, lambda cfg: mock.configure(**cfg), lambda: mock.calls, lambda: mock.tasks)
        return
    service = create_service(seed=SEED, clock=ManualClock())
    with serve_in_thread(service) as base, httpx.Client(base_url=base) as http:
        def admin(path: str, body: dict) -> None:
            response = http.post(f"/__admin/{path}", json=body)
            assert response.status_code == 200, response.text

        yield Navtalk(http, f"{base}/generate", f"{base}/query_status", lambda s: admin("clock", {"advance": s}),
                      lambda cfg: admin("config", cfg), lambda: http.get("/__admin/calls").json()["calls"],
                      lambda: http.get("/__admin/tasks").json())
