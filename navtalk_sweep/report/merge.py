"""Join run directories (e.g. CI shards) into one result set."""

from __future__ import annotations

import shutil
from pathlib import Path

from navtalk_sweep.errors import RunError
from navtalk_sweep.record import CaseRecord
from navtalk_sweep.results import SEARCH, Run, load_run, write_json, write_meta, write_results


def merge_runs(paths: list[str], out: Path) -> Run:
    """One run from many; a case seen in several keeps the last one's record. Videos are copied."""
    runs = [load_run(p) for p in paths]
    if not runs:
        raise RunError("merge needs at least one run directory")
    out.mkdir(parents=True, exist_ok=True)
    by_key: dict[tuple[str, str], CaseRecord] = {}
    for run in runs:
        for rec in run.records:
            # the video and the pictures made from it (poster, mouth strip) come along, run-relative
            for rel in [rec.video, *rec.images.values()]:
                if rel and not Path(rel).is_absolute() and (run.path / rel).is_file():
                    (out / rel).parent.mkdir(parents=True, exist_ok=True)
                    if (run.path / rel).resolve() != (out / rel).resolve():
                        shutil.copy2(run.path / rel, out / rel)
            by_key[(rec.scenario, rec.key)] = rec
    records = list(by_key.values())
    studies = {s.get("study"): s for run in runs for s in run.searches}  # each shard ran its own searches
    meta = {"run_id": out.name, "merged_from": [str(r.meta.get("run_id") or r.path) for r in runs],
            "scenarios": sorted({s for r in runs for s in r.meta.get("scenarios", [])}),
            "target": runs[0].meta.get("target"), "started_at": min(r.meta.get("started_at") or "" for r in runs),
            "finished_at": max(r.meta.get("finished_at") or "" for r in runs), "status": "merged"}
    write_results(out, records)
    write_meta(out, meta)
    if studies:
        write_json(out / SEARCH, list(studies.values()))
    return Run(out, meta, records, list(studies.values()))
