"""The mock NavTalk inside a Python process: respx routes over the one mock service.

    with NavTalkMock(seed=1) as mock:          # intercepts both NavTalk base URLs
        httpx.post("https://app.navtalk.ai/generate", json={...})
        mock.advance(20)                      # tasks move on the mock's manual clock
        mock.fault("http_503", endpoint="query", times=2)

The pytest fixture ``navtalk_mock`` hands out one of these.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

import httpx
import respx

from mock_server import MockTransport, create_service
from navtalk_sweep.clock import ManualClock
from navtalk_sweep.contract import DEFAULT_GENERATE_URL, DEFAULT_STATUS_URL
from navtalk_sweep.simulator import Cassette, Fault, SimulatorConfig, Task

__all__ = ["NavTalkMock"]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class NavTalkMock:
    """A simulator behind respx: intercepts the configured NavTalk hosts, no sockets."""

    def __init__(self, *, seed: int = 0, config: SimulatorConfig | None = None,
                 base_urls: Iterable[str] = (DEFAULT_GENERATE_URL, DEFAULT_STATUS_URL),
                 replay: str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None) -> None:
        """``replay``: run directories recorded with ``run --record``, answered as recorded (see cassette)."""
        self.clock = ManualClock()
        paths = [replay] if isinstance(replay, str | os.PathLike) else list(replay or ())
        cassette = Cassette.load(paths) if paths else None
        self.service = create_service(seed=seed, config=config, clock=self.clock, replay=cassette)
        self.simulator = self.service.simulator
        self.transport = MockTransport(self.service)
        self.router = respx.MockRouter(assert_all_called=False, assert_all_mocked=False)
        for origin in dict.fromkeys(_origin(u) for u in base_urls):
            self.router.route(url__startswith=origin).mock(side_effect=self.transport.handle_request)
        self.router.route().pass_through()

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        self.router.start()
        return self

    def stop(self) -> None:
        self.router.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- steering ----------------------------------------------------------------------

    def advance(self, seconds: float) -> float:
        """Move the mock's clock; tasks change status as time passes."""
        return self.clock.advance(seconds)

    def configure(self, **settings: Any) -> None:
        """Change simulator settings (timing, licences, characters, faults...) from now on."""
        current = {k: getattr(self.simulator.config, k) for k in SimulatorConfig.__dataclass_fields__}
        self.simulator.configure(SimulatorConfig.from_dict({**current, **settings}))

    def fault(self, kind: str, **options: Any) -> Fault:
        """Add one fault to the plan, e.g. ``fault("rate_limit", retry_after=2, times=1)``."""
        fault = Fault.from_dict({"kind": kind, **options})
        self.configure(faults=(*self.simulator.config.faults, fault))
        return fault

    # -- inspection --------------------------------------------------------------------

    @property
    def tasks(self) -> list[Task]:
        return list(self.simulator.tasks.values())

    @property
    def calls(self) -> dict[str, int]:
        """Calls per endpoint: generate, query_status, results, media."""
        return dict(self.simulator.calls)

    @property
    def submits(self) -> dict[str, int]:
        """Submits per request id (same request, same id)."""
        return dict(self.simulator.submits)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An httpx client wired straight to the mock (no respx needed)."""
        return httpx.Client(transport=self.transport, **kwargs)
