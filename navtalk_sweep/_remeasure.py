"""Records measured by an earlier definition of a measure, measured again from their stored videos.

A measure whose definition changed has a new revision (``record.Field.revision``); a run writes the
revisions it measured with into run.json (``measures``). Records reused from a run measured otherwise
(``run --reuse``), or finished before a resume by older code, would mix two definitions in one run, and
rank a setting measured one way against one measured the other: their videos are on disk, so the
measures that changed are computed again (CPU only, no request), in the analysis pool.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from navtalk_sweep import analysis
from navtalk_sweep._fetch import face_url
from navtalk_sweep._measure import measure_again
from navtalk_sweep.analysis import pool
from navtalk_sweep.errors import RunError
from navtalk_sweep.record import CaseRecord, Outcome, revisions
from navtalk_sweep.results import Replayed, RunDirectory
from navtalk_sweep.runner import JobState, evaluate
from navtalk_sweep.scenario import Case

__all__ = ["FaceOf", "face_finder", "measured_again", "measured_again_on_resume", "revisions_of", "stale"]

#: what a record's face comes to: the face file the request sent (None: not known here) and the request
FaceOf = Callable[[CaseRecord], tuple[Path | None, Mapping[str, Any] | None]]


#: the case a record was made for, or None when this run's scenarios no longer make it
CaseOf = Callable[[CaseRecord], Case | None]


def revisions_of(run: str | os.PathLike[str] | None) -> dict[str, int]:
    """The revisions the run at ``run`` measured by (its run.json's ``measures``; none named: revision 1)."""
    where = Path(run or "")
    try:
        return RunDirectory(where).read_meta().measures if run and where.is_dir() else {}
    except RunError:  # no run.json (a bare results.jsonl): measured at revision 1
        return {}


def stale(recorded: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The measures a run computed at another revision than this code does (from its run.json ``measures``;
    a measure not named there was at revision 1)."""
    now, then = revisions(), dict(recorded or {})
    return tuple(sorted(name for name in {*now, *then} if now.get(name, 1) != then.get(name, 1)))


def measured_again(records: Mapping[str, CaseRecord], names: tuple[str, ...], face_of: FaceOf,
                   source: str) -> dict[str, CaseRecord]:
    """``records`` with the measures ``names`` computed again from their videos (absolute paths); a value that
    cannot be computed again is left out, with a note, never kept from the other definition."""
    todo = {key: rec for key, rec in records.items() if rec.metrics and set(names) & set(rec.metrics)}
    work: dict[str, tuple[Path | None, Mapping[str, Any] | None]] = {}  # each video once, with its face
    for rec in todo.values():
        if rec.video and rec.video not in work and Path(rec.video).is_file():
            work[rec.video] = face_of(rec)
    found: dict[str, dict[str, float] | None] = {}
    if work and analysis.available():
        with ThreadPoolExecutor(max(1, pool.workers())) as threads:  # each waits on a worker process
            found = dict(zip(work, threads.map(
                lambda item: pool.call(measure_again, Path(item[0]), names, *item[1]), work.items()), strict=True))
    out = dict(records)
    for key, rec in todo.items():
        again = found.get(rec.video or "")
        metrics = {k: v for k, v in (rec.metrics or {}).items() if k not in names}
        notes = rec.notes
        if again is not None:
            metrics.update(again)
        lost = [name for name in names if name in (rec.metrics or {}) and name not in metrics]
        if lost:
            them = "it" if len(lost) == 1 else "them"
            lost_note = (f"{', '.join(lost)} left out: {source} measured {them} by an earlier definition and the "
                         "video could not be measured again here")
            notes = (*notes, lost_note)
        out[key] = rec.replace(metrics=metrics, notes=notes)
    return out


def face_finder(case_of: CaseOf, run_path: Path) -> FaceOf:
    """The face file a record's case sent (local, or as downloaded into ``run_path``), and its request."""

    def face_of(rec: CaseRecord) -> tuple[Path | None, Mapping[str, Any] | None]:
        case = case_of(rec)
        url = face_url(case) if case is not None else None
        if case is None or url is None:
            return None, None
        local = case.files.get(url)
        downloaded = RunDirectory(run_path).face_file(url)
        return (Path(local) if local else downloaded if downloaded.is_file() else None), case.request

    return face_of


def measured_again_on_resume(replayed: Replayed, changed: tuple[str, ...], case_of: CaseOf,
                             run_dir: Path) -> dict[str, list[CaseRecord]]:
    """The finished jobs' records with the ``changed`` measures computed again from the run's videos, and judged
    again against their scenario's ``expect`` (the jobs whose records changed)."""
    flat = {f"{key}\0{i}": rec.replace(video=str(run_dir / rec.video)) if rec.video else rec
            for key, records in replayed.records.items() if replayed.states.get(key, JobState()).finished
            for i, rec in enumerate(records)}
    again = measured_again(flat, changed, face_finder(case_of, run_dir), "this run, before it was resumed,")
    out: dict[str, list[CaseRecord]] = {}
    for name, rec in again.items():
        key, index = name.split("\0")
        old = replayed.records[key][int(index)]
        if rec is flat[name]:  # nothing measured again
            out.setdefault(key, []).append(old)
            continue
        rec = rec.replace(video=old.video)
        case = case_of(rec)
        if case is not None and rec.outcome in (Outcome.PASSED, Outcome.FAILED):
            verdict, checks = evaluate(case.expect, rec)
            rec = rec.replace(outcome=verdict, checks=checks)
        out.setdefault(key, []).append(rec)
    return {key: records for key, records in out.items() if records != replayed.records[key]}
