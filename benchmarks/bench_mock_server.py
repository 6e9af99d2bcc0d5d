"""Requests per second `navtalk-sweep mock` sustains for query_status, measured with wrk on loopback.

Baseline, in the same run and the same way: a trivial ASGI app under the same uvicorn
(the ceiling of the server stack on this machine). Needs Debian's wrk; bounded: 5 s per
measurement, loopback only.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=HERE)
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=0.5)
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"server did not start: {cmd}")


def wrk(url: str, seconds: int = 5) -> float:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True,
                         timeout=seconds + 30, check=True).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    port = free_port()
    mock = start([sys.executable, "-m", "navtalk_sweep.cli", "mock", "--port", str(port), "--quiet",
                  "--timing", "fixed:100000"], port)
    try:
        base = f"http://127.0.0.1:{port}"
        task = httpx.post(f"{base}/generate", json={"license": "sk-test", "character_name": "girl2",
                                                     "content": "hi", "voice": "nova"}).json()["task_id"]
        mock_rps = wrk(f"{base}/query_status?license=sk-test&task_id={task}")
        calls = httpx.get(f"{base}/__admin/calls").json()["calls"]["query_status"]
    finally:
        mock.terminate()
        mock.wait(10)
    port = free_port()
    trivial = start([sys.executable, "-m", "uvicorn", "trivial_app:app", "--port", str(port), "--log-level",
                     "warning", "--no-access-log", "--lifespan", "off"], port)
    try:
        base_rps = wrk(f"http://127.0.0.1:{port}/query_status")
    finally:
        trivial.terminate()
        trivial.wait(10)
    print(f"query_status on `navtalk-sweep mock`: {mock_rps:,.0f} requests/s ({calls:,} counted by the simulator)")
    print(f"baseline trivial ASGI app, same uvicorn: {base_rps:,.0f} requests/s")
    print(f"ratio mock/baseline: {mock_rps / base_rps:.2f}")


if __name__ == "__main__":
    main()
