"""``navtalk-sweep mock``: the mock over HTTP with uvicorn, one log line per request."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import uvicorn

from mock_server import create_app, create_service
from navtalk_sweep.simulator import Cassette, SimulatorConfig


def _loopback_getter(own_port: int) -> Callable[[str], bytes | None]:
    """Fetches loopback media, except from this very server (its event loop would wait on itself)."""
    http = httpx.Client(timeout=5.0)  # one for the server's life: a new client loads the certificates (57 ms)

    def get(url: str) -> bytes | None:
        if httpx.URL(url).port == own_port:
            return None
        try:
            response = http.get(url)
        except httpx.HTTPError:
            return None
        return response.content if response.status_code == 200 else None

    return get


def _not_a_deliberate_drop(record: logging.LogRecord) -> bool:
    """uvicorn logs a traceback when a response stops short; for the 'drop' fault that is the point."""
    exc = record.exc_info[1] if record.exc_info else None
    return not (exc is not None and "Too little data for declared Content-Length" in str(exc))


def serve(*, host: str = "127.0.0.1", port: int = 8000, seed: int = 0, config: SimulatorConfig | None = None,
          media_dir: str | Path | None = None, quiet: bool = False, replay: Cassette | None = None) -> None:
    service = create_service(seed=seed, config=config, media_dir=media_dir, http_get=_loopback_getter(port),
                             replay=replay)
    service.render_in_pool = False  # a pool's workers would outlive a server its tests kill
    if not quiet:
        service.log = lambda line: print(line, file=sys.stderr, flush=True)
    # uvicorn's access log prints query strings, licences included: ours redacts them instead
    logging.getLogger("uvicorn.error").addFilter(_not_a_deliberate_drop)
    replaying = f", replaying {len(replay.submits)} recorded request(s)" if replay is not None else ""
    print(f"navtalk mock on http://{host}:{port} (seed {seed}{replaying}); POST /generate, GET /query_status, "
          f"/openapi.json, /__admin/", file=sys.stderr, flush=True)
    uvicorn.run(create_app(service), host=host, port=port, access_log=False, log_level="warning",
                lifespan="off")
