"""Where a sweep sends its requests: the bundled mock, the vendor's hosts, or any base URL."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from navtalk_sweep.client import Endpoint
from navtalk_sweep.contract import DEFAULT_GENERATE_URL, DEFAULT_STATUS_URL, redact_license
from navtalk_sweep.errors import InvalidArgument
from navtalk_sweep.simulator import SimulatorConfig

__all__ = ["MOCK_LICENSE", "MockClock", "Target", "TargetKind"]

#: what the bundled mock is sent as a licence: it accepts any
MOCK_LICENSE = "sk-test-mock"
_MOCK_BASE = "https://mock.navtalk.invalid"


class TargetKind(enum.StrEnum):
    MOCK = "mock"  # the bundled simulator, in this process
    URL = "url"  # a service over HTTP: the vendor's, a proxy, or ``navtalk-sweep mock``


class MockClock(enum.StrEnum):
    VIRTUAL = "virtual"  # tasks take no real time
    REAL = "real"  # tasks take their 5-20 s


# -- where requests go -------------------------------------------------------------------------


def _http_url(url: str, what: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"{what} must be an http(s) URL, got {url!r}")
    return url


@dataclass(frozen=True)
class Target:
    """Where a sweep sends its requests. Build one with :meth:`mock`, :meth:`navtalk`, :meth:`base_url`,
    :meth:`urls`, or :meth:`parse` (the command line's ``--target`` words)."""

    kind: TargetKind
    generate_url: str
    status_url: str
    license: str = field(default="", repr=False)
    #: the bundled mock's settings, seed and clock (kind MOCK only)
    mock_config: SimulatorConfig | None = None
    seed: int = 0
    clock: MockClock = MockClock.VIRTUAL
    #: run directories recorded with ``record=True`` that the mock answers from (see cassette)
    replay: tuple[str, ...] = ()

    @classmethod
    def mock(cls, *, config: SimulatorConfig | None = None, clock: MockClock | str = MockClock.VIRTUAL,
             seed: int = 0, license: str | None = None,
             replay: Sequence[str | os.PathLike[str]] = ()) -> Target:
        """The bundled simulator in this process (no licence, no network); ``replay`` answers from recordings."""
        try:
            clock = MockClock(clock)
        except ValueError:
            raise InvalidArgument(f"clock must be 'virtual' or 'real', got {clock!r}") from None
        return cls(TargetKind.MOCK, f"{_MOCK_BASE}/generate", f"{_MOCK_BASE}/query_status",
                   license or MOCK_LICENSE, config, seed, clock, tuple(map(str, replay)))

    @classmethod
    def navtalk(cls, *, license: str | None = None, env: Mapping[str, str] | None = None) -> Target:
        """The vendor's two hosts, or ``NAVTALK_GENERATE_URL`` / ``NAVTALK_STATUS_URL`` when set."""
        endpoint = Endpoint.from_env(license=license, env=env)
        return cls(TargetKind.URL, endpoint.generate_url, endpoint.status_url, endpoint.license)

    @classmethod
    def base_url(cls, url: str, *, license: str | None = None, env: Mapping[str, str] | None = None) -> Target:
        """One base serving ``/generate`` and ``/query_status`` (``navtalk-sweep mock``, a proxy)."""
        base = _http_url(url, "a target URL").rstrip("/")
        return cls.urls(f"{base}/generate", f"{base}/query_status", license=license, env=env)

    @classmethod
    def urls(cls, generate_url: str, status_url: str, *, license: str | None = None,
             env: Mapping[str, str] | None = None) -> Target:
        """Two explicit endpoint URLs."""
        endpoint = Endpoint.from_env(license=license, generate_url=_http_url(generate_url, "generate_url"),
                                     status_url=_http_url(status_url, "status_url"), env=env)
        return cls(TargetKind.URL, endpoint.generate_url, endpoint.status_url, endpoint.license)

    @classmethod
    def parse(cls, text: str | None, *, license: str | None = None, seed: int | None = None,
              mock_config: SimulatorConfig | None = None, clock: MockClock | str | None = None,
              saved: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Target:
        """``mock``, ``navtalk`` or a base URL; None: where a resumed run was sent (``saved``: the bundled
        mock with its clock, seed, settings and recordings, unless given again), else the service the
        environment names, else the bundled mock."""
        env = os.environ if env is None else env
        if text is None and saved:
            if saved.get("kind") == TargetKind.MOCK:
                if mock_config is None and isinstance(saved.get("mock_config"), Mapping):
                    # licences are never written down: a resumed mock accepts any, unless --mock-config is given
                    kept = {k: v for k, v in saved["mock_config"].items() if k != "licenses"}
                    mock_config = SimulatorConfig.from_dict(kept)
                return cls.mock(config=mock_config, clock=clock or str(saved.get("clock") or MockClock.VIRTUAL),
                                seed=seed if seed is not None else int(saved.get("seed") or 0), license=license,
                                replay=[str(r) for r in saved.get("replay") or ()])
            return cls.urls(str(saved.get("generate_url") or DEFAULT_GENERATE_URL),
                            str(saved.get("status_url") or DEFAULT_STATUS_URL), license=license, env=env)
        if text is None:
            text = "navtalk" if env.get("NAVTALK_GENERATE_URL") or env.get("NAVTALK_STATUS_URL") else "mock"
        if text == "mock":
            return cls.mock(config=mock_config, clock=clock or MockClock.VIRTUAL, seed=seed or 0, license=license)
        if text == "navtalk":
            return cls.navtalk(license=license, env=env)
        return cls.base_url(text, license=license, env=env)

    @property
    def endpoint(self) -> Endpoint:
        return Endpoint(self.license, self.generate_url, self.status_url)

    @property
    def paid(self) -> bool:
        """True when a submit may cost money (anything but the bundled mock)."""
        return self.kind is not TargetKind.MOCK

    def describe(self) -> dict[str, Any]:
        """For run.json and reports: the licence redacted."""
        out: dict[str, Any] = {"kind": self.kind.value, "generate_url": self.generate_url,
                               "status_url": self.status_url, "license": redact_license(self.license)}
        if self.kind is TargetKind.MOCK:  # what a resume needs to build the same mock again
            out.update(clock=self.clock.value, seed=self.seed, replay=list(self.replay),
                       mock_config=self.mock_config.as_dict() if self.mock_config is not None else None)
        return out
