"""The HTTP face of the NavTalk simulator: one service, reached through ASGI or in-process.

    service = create_service(seed=1)
    app = create_app(service)            # uvicorn, httpx.ASGITransport, respx.ASGIHandler
    transport = MockTransport(service)   # httpx.Client / AsyncClient, no sockets
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mock_server.asgi import create_app
from mock_server.openapi import openapi_document
from mock_server.service import HttpReply, MockService
from mock_server.transport import MockTransport
from navtalk_sweep.clock import ManualClock, monotonic
from navtalk_sweep.simulator import Cassette, Simulator, SimulatorConfig

__all__ = ["HttpReply", "MockService", "MockTransport", "create_app", "create_service", "openapi_document"]


def create_service(*, seed: int = 0, config: SimulatorConfig | None = None,
                   clock: Callable[[], float] | None = None, media_dir: str | Path | None = None,
                   http_get: Callable[[str], bytes | None] | None = None,
                   replay: Cassette | None = None) -> MockService:
    """A mock NavTalk; ``clock`` defaults to the real monotonic clock.

    With a :class:`ManualClock` the admin endpoint ``/__admin/clock`` can move time.
    """
    clock = clock or monotonic
    simulator = Simulator(config, clock=clock, seed=seed, replay=replay)
    advance = clock.advance if isinstance(clock, ManualClock) else None
    return MockService(simulator, media_dir=media_dir, http_get=http_get, advance_clock=advance)
