"""Records measured by an earlier definition of a measure, measured again from their stored videos.

A measure whose definition changed has a new revision (``record.Field.revision``); a run writes the
revisions it measured with into run.json (``measures``). Records reused from a run measured otherwise
(``run --reuse``) would mix two definitions in one run, and rank a setting measured one way against
one measured the other: their videos are on disk, so the measures that changed are computed again
(CPU only, no request), in the analysis pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from navtalk_sweep import analysis
from navtalk_sweep._measure import measure_again
from navtalk_sweep.analysis import pool
from navtalk_sweep.record import CaseRecord, revisions

__all__ = ["FaceOf", "measured_again", "stale"]

#: what a record's face comes to: the face file the request sent (None: not known here) and the request
FaceOf = Callable[[CaseRecord], tuple[Path | None, Mapping[str, Any] | None]]


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
