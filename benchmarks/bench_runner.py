"""The runner against the in-process simulator on a virtual clock, with two baselines run here too.

(a) 10,000 cases: this runner vs a sequential submit-then-poll-every-2-s loop over the
    same simulator. Reports cases per second of service time (what a real run would take)
    and of CPU time (how long the harness itself needs).
(b) polling on the vendor's 5-20 s timing: query_status calls per task and mean detection
    lag (poll that saw 'done' minus the moment the task was done), vs fixed 2-s polling.
"""

from __future__ import annotations

import asyncio
import sys
import time
from statistics import mean

import httpx

from mock_server import MockTransport, create_service
from navtalk_sweep.client import AsyncNavTalkClient, Endpoint
from navtalk_sweep.clock import ManualClock, run_virtual
from navtalk_sweep.runner import CaseFinished, Runner, RunOptions, plan_jobs
from navtalk_sweep.scenario import load_text
from navtalk_sweep.simulator import SimulatorConfig, Timing

VENDOR = SimulatorConfig(timing=Timing())  # 5-20 s, growing with speech length


def make_cases(n: int):
    words = " ".join(f"w{i}" for i in range(40))
    text = f"""
name: bench
inputs:
  faces: {{girl: {{character_name: girl2}}}}
  speech:
{chr(10).join(f'    s{k}: {{text: "{" ".join(words.split()[:4 + k * 4])}", voice: nova}}' for k in range(8))}
matrix:
  speech: [{", ".join(f"s{k}" for k in range(8))}]
  bbox_shift: {{from: 0, to: {n // 8 - 1}}}
"""
    cases = list(load_text(text, "bench.yaml").plans[0])
    assert len(cases) == n
    return cases


def ours(cases, concurrency: int, submit_rate: float):
    clock = ManualClock()
    service = create_service(seed=1, config=VENDOR, clock=clock)
    finished = []

    async def main():
        async with httpx.AsyncClient(transport=MockTransport(service)) as http:
            client = AsyncNavTalkClient(Endpoint("sk-test"), http)
            runner = Runner(client, RunOptions(concurrency=concurrency, submit_rate=submit_rate),
                            lambda e: finished.extend(e.records) if isinstance(e, CaseFinished) else None,
                            now=asyncio.get_running_loop().time)
            await runner.run(plan_jobs(cases))

    t0 = time.perf_counter()
    run_virtual(main(), clock)
    cpu = time.perf_counter() - t0
    sim = service.simulator
    # the mock keeps its newest tasks only (max_tasks_kept): the lag is measured on those
    lags = [r.time_to_done - sim.tasks[r.task_id].duration for r in finished if r.task_id in sim.tasks]
    assert all(r.outcome == "passed" for r in finished) and min(lags) >= -0.001  # time_to_done is rounded to ms
    return {"cpu": cpu, "service": clock.now, "calls": sim.calls["query_status"] / len(cases), "lag": mean(lags)}


def fixed_interval(cases, concurrency: int, interval: float = 2.0):
    """The hand-written loop: submit, then poll every ``interval`` seconds until done."""
    clock = ManualClock()
    service = create_service(seed=1, config=VENDOR, clock=clock)
    lags = []

    async def one(client, case, sem):
        async with sem:
            body = case.body("sk-test")
            task_id = (await client.submit(body)).task_id
            start = clock.now
            while True:
                await asyncio.sleep(interval)
                if (await client.status(task_id)).status == "done":
                    lags.append(clock.now - start - service.simulator.tasks[task_id].duration)
                    return

    async def main():
        async with httpx.AsyncClient(transport=MockTransport(service)) as http:
            client = AsyncNavTalkClient(Endpoint("sk-test"), http)
            sem = asyncio.Semaphore(concurrency)
            await asyncio.gather(*(one(client, c, sem) for c in cases))

    t0 = time.perf_counter()
    run_virtual(main(), clock)
    cpu = time.perf_counter() - t0
    return {"cpu": cpu, "service": clock.now, "calls": service.simulator.calls["query_status"] / len(cases),
            "lag": mean(lags)}


def main(n: int = 10_000) -> None:
    cases = make_cases(n)
    a = ours(cases, concurrency=64, submit_rate=20)
    base = fixed_interval(cases, concurrency=1)
    print(f"(a) {n:,} cases on the vendor's 5-20 s timing, in-process simulator, virtual clock")
    print(f"    runner (64 in flight, 20 submits/s): {a['service']:>10,.0f} s of service time "
          f"({n / a['service']:.2f} cases/s), {a['cpu']:.1f} s CPU ({n / a['cpu']:,.0f} cases/s)")
    print(f"    sequential poll-every-2-s loop:      {base['service']:>10,.0f} s of service time "
          f"({n / base['service']:.3f} cases/s), {base['cpu']:.1f} s CPU ({n / base['cpu']:,.0f} cases/s)")
    print(f"    ratio in service (wall) time: {base['service'] / a['service']:.0f}x faster; "
          f"in CPU time: {base['cpu'] / a['cpu']:.2f}x")
    m = 2_000
    sample = cases[:: max(1, n // m)][:m]  # every speech length, not just the first ones
    b_ours = ours(sample, concurrency=64, submit_rate=20)
    b_fixed = fixed_interval(sample, concurrency=64)
    print(f"(b) polling, {m:,} tasks, 64 in flight")
    print(f"    adaptive: {b_ours['calls']:.2f} query_status calls per task, mean detection lag {b_ours['lag']:.2f} s")
    print(f"    fixed 2 s: {b_fixed['calls']:.2f} calls per task, mean detection lag {b_fixed['lag']:.2f} s")
    print(f"    ratio: {b_fixed['calls'] / b_ours['calls']:.2f}x fewer calls, lag {b_ours['lag']:.2f} s vs "
          f"{b_fixed['lag']:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
