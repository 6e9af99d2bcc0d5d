"""`navtalk-sweep mock` under load on loopback: both endpoints at 32 and 256 connections, then memory.

For each endpoint and connection count, 5 s of wrk: requests/s, p50 and p99 latency, and
answers that were not 2xx (goal: none, with no fault plan). Then POST /generate until
100,000 tasks exist, reading the server's RSS on the way (goal: flat once the simulator's
task cap, 50,000 by default, is reached). Baseline in the same run: a trivial ASGI app
under the same uvicorn, same wrk. Needs Debian's wrk; loopback only, bounded in time.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent

BODY = '{"license": "sk-test", "character_name": "girl2", "content": "Hello there.", "voice": "nova"}'


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


def wrk(url: str, connections: int, seconds: int = 5, script: str | None = None) -> dict[str, float]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        argv[1:1] = ["-s", script]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout

    def ms(label: str) -> float:
        m = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)", out, re.MULTILINE)
        if m is None:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": ms("50"), "p99": ms("99"),
            "non2xx": int(bad.group(1)) if bad else 0,
            "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0}


def rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", text).group(1)) / 1024


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("needs wrk: apt-get install wrk")
    with tempfile.TemporaryDirectory() as tmp:
        post = Path(tmp) / "post.lua"
        post.write_text(f"wrk.method = 'POST'\nwrk.body = '{BODY}'\nwrk.headers['Content-Type'] = 'application/json'\n")
        port = free_port()
        mock = start([sys.executable, "-m", "navtalk_sweep.cli", "mock", "--port", str(port), "--quiet",
                      "--timing", "fixed:100000"], port)
        try:
            base = f"http://127.0.0.1:{port}"
            task = httpx.post(f"{base}/generate", content=BODY).json()["task_id"]
            rss0 = rss_mb(mock.pid)
            for c in (32, 256):
                q = wrk(f"{base}/query_status?license=sk-test&task_id={task}", c)
                g = wrk(f"{base}/generate", c, script=str(post))
                for name, r in (("query_status", q), ("generate", g)):
                    print(f"mock {name:<12} c={c:<3}: {r['rps']:>7,.0f} req/s, p50 {r['p50']:.2f} ms, "
                          f"p99 {r['p99']:.2f} ms, non-2xx {r['non2xx']}, socket errors {r['socket_errors']}")
            marks = []
            while True:
                calls = httpx.get(f"{base}/__admin/calls").json()["calls"]
                marks.append((calls["generate"], rss_mb(mock.pid)))
                if calls["generate"] >= 100_000:
                    break
                wrk(f"{base}/generate", 32, seconds=3, script=str(post))
            shown = ", ".join(f"{n:,} tasks {mb:.0f} MB" for n, mb in marks)
            kept = len(httpx.get(f"{base}/__admin/tasks").json())
            print(f"mock RSS: start {rss0:.0f} MB; {shown}; tasks kept {kept:,} (the cap)")
        finally:
            mock.terminate()
            mock.wait(10)
        port = free_port()
        trivial = start([sys.executable, "-m", "uvicorn", "trivial_app:app", "--port", str(port), "--log-level",
                         "warning", "--no-access-log", "--lifespan", "off"], port)
        try:
            for c in (32, 256):
                r = wrk(f"http://127.0.0.1:{port}/query_status", c)
                print(f"baseline trivial ASGI app  c={c:<3}: {r['rps']:>7,.0f} req/s, p50 {r['p50']:.2f} ms, "
                      f"p99 {r['p99']:.2f} ms")
        finally:
            trivial.terminate()
            trivial.wait(10)


if __name__ == "__main__":
    main()
