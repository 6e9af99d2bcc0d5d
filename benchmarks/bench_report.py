"""Render the report of a 10,000-case run: time and file size.

Baseline, in the same run: writing the same records as results.jsonl (the least any
report must do: serialise every record once).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from navtalk_sweep.record import CaseRecord
from navtalk_sweep.report import write_html, write_junit
from navtalk_sweep.results import load_run, write_meta, write_results


def records(n: int) -> list[dict]:
    rng = random.Random(1)
    out = []
    for i in range(n):
        shift, margin, cheek = i % 19 - 9, (i // 19) % 11 * 5, 50 + (i // 209) % 11 * 10
        outcome = rng.choices(["passed", "failed", "error", "timeout"], [90, 6, 3, 1])[0]
        t = round(rng.uniform(5, 20), 3)
        out.append({
            "case_id": f"{i:012x}", "key": f"{i:012x}", "repeat": 1, "scenario": f"s{i % 4}",
            "label": f"image+tts voice=nova bbox_shift={shift} extra_margin={margin} left_cheek_width={cheek}",
            "mode": 4, "params": {"face": "portrait", "speech": "hello", "voice": "nova", "bbox_shift": shift,
                                  "extra_margin": margin, "left_cheek_width": cheek},
            "request": {"image_url": "https://example.com/p.jpg", "content": "Welcome to NavTalk.", "voice": "nova",
                        "bbox_shift": shift, "extra_margin": margin, "left_cheek_width": cheek},
            "speech_seconds": 1.2, "task_id": f"00000000-0000-4000-8000-{i:012x}",
            "status_history": [{"status": "processing", "t": 5.0}, {"status": "done", "t": t}],
            "final_status": "done" if outcome == "passed" else "failed", "video_url": None,
            "video": f"videos/{i:012x}.mp4", "error": None if outcome == "passed" else "face not found",
            "submit_latency": 0.05, "time_to_done": t, "polls": 3, "retries": 0, "submit_unknown": False,
            "outcome": outcome, "checks": [{"check": "status", "ok": outcome == "passed", "detail": "x"}],
            "facts": {"duration": 1.2, "width": 512, "height": 512},
        })
    return out


def main(n: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        recs = [CaseRecord.from_dict(r) for r in records(n)]
        t0 = time.perf_counter()
        write_results(run_dir, recs)
        t_base = time.perf_counter() - t0
        write_meta(run_dir, {"run_id": "bench", "target": {"kind": "mock", "generate_url": "x", "license": ""}})
        run = load_run(run_dir)
        t0 = time.perf_counter()
        path = write_html(run)
        t_html = time.perf_counter() - t0
        t0 = time.perf_counter()
        junit = write_junit(run)
        t_junit = time.perf_counter() - t0
        size = path.stat().st_size
        print(f"report of {n:,} cases: report.html {t_html:.2f} s, {size / 1e6:.1f} MB "
              f"({size / n:.0f} bytes per case); junit.xml {t_junit:.2f} s, {junit.stat().st_size / 1e6:.1f} MB")
        print(f"baseline results.jsonl: {t_base:.2f} s; ratio html/baseline: {t_html / t_base:.1f}x")


if __name__ == "__main__":
    main()
