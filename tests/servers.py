"""A mock server on loopback for tests: uvicorn in a thread, on a free port."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from mock_server import MockService, create_app


@contextmanager
def serve_in_thread(service: MockService) -> Iterator[str]:
    """Serve ``service`` on 127.0.0.1 and yield its base URL; stops when the block ends."""
    config = uvicorn.Config(create_app(service), host="127.0.0.1", port=0, log_level="critical",
                            access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the loopback mock server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mock_process(*args: str, log: list[str] | None = None) -> Iterator[str]:
    """``navtalk-sweep mock`` as a child process; yields its base URL; its stderr lines go to ``log``."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "navtalk_sweep.cli", "mock", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        # one client for the whole wait: each new one loads the system's certificates (57 ms of CPU); asking
        # with a new one every 50 ms while the child started cost 0.16-0.33 s of CPU a start (now 0.07-0.12)
        with httpx.Client(timeout=1) as http:
            while True:
                try:
                    http.get(f"{base}/openapi.json")
                    break
                except httpx.TransportError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"mock server did not start: {proc.stderr.read() if proc.stderr else ''}")
                    time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        if log is not None:
            log.extend(err.splitlines())
