"""Kill the runner at any moment, resume from the journal: nothing paid twice, nothing lost.

The in-process simulator plays the service, which outlives the killed runner; the kill is a
cancellation at a hypothesis-chosen virtual time, which can land between a submit reaching
the service and its answer being journaled.
"""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import given, settings
from hypothesis import strategies as st

from mock_server import MockTransport, create_service
from navtalk_sweep.client import AsyncNavTalkClient, Endpoint
from navtalk_sweep.clock import ManualClock, run_virtual
from navtalk_sweep.results import replay
from navtalk_sweep.runner import Event, JobState, Runner, RunOptions, event_from_dict, plan_jobs
from navtalk_sweep.scenario import load_text
from navtalk_sweep.simulator import SimulatorConfig

CASES = list(load_text("""
name: resume
inputs:
  faces: {girl: {character_name: girl2}}
  speech: {hi: {text: "Welcome to NavTalk, once more.", voice: nova}}
matrix:
  bbox_shift: {from: -9, to: 9}
""", "resume.yaml").plans[0])
CONFIG = SimulatorConfig.from_dict({"faults": [
    {"kind": "http_503", "endpoint": "query", "probability": 0.2},
    {"kind": "slow", "endpoint": "submit", "probability": 0.3, "delay": 3},
]})


def journaled(events: list[Event]) -> list[Event]:
    """What a reader gets back from journal.jsonl."""
    return [event_from_dict(json.loads(json.dumps(e.as_dict()))) for e in events]


@settings(max_examples=40, deadline=None)
@given(kills=st.lists(st.floats(0.0, 40.0), min_size=1, max_size=3), seed=st.integers(0, 5))
def test_resume_after_kills_at_any_moment(kills, seed):
    clock = ManualClock()
    service = create_service(seed=seed, config=CONFIG, clock=clock)
    events: list[Event] = []

    async def main():
        async with httpx.AsyncClient(transport=MockTransport(service)) as http:
            client = AsyncNavTalkClient(Endpoint("sk-test"), http)
            for kill in [*kills, None]:
                jobs = plan_jobs(CASES)
                states = replay(journaled(events)).states
                for job in jobs:
                    job.state = states.get(job.key, JobState())
                runner = Runner(client, RunOptions(concurrency=5, submit_rate=4), events.append,
                                now=asyncio.get_running_loop().time)
                try:
                    await asyncio.wait_for(runner.run(jobs), kill)
                except TimeoutError:
                    pass  # killed: the service goes on, the journal holds what was written

    run_virtual(main(), clock)
    records = {key: recs[0] for key, recs in replay(journaled(events)).records.items()}
    assert set(records) == {c.case_id for c in CASES}  # nothing lost
    assert max(service.simulator.submits.values()) == 1  # nothing paid for twice
    for rec in records.values():
        if rec.submit_unknown:
            assert rec.outcome == "error" and rec.task_id is None
        else:
            assert rec.outcome == "passed", rec
