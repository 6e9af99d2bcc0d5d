"""What a run measures and draws of the faces it can see: the report's posters, the video metrics."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from navtalk_sweep.errors import one_line

if TYPE_CHECKING:
    from navtalk_sweep.analysis.metrics import VideoMetrics

__all__ = ["measure_again", "measure_video", "poster_maker"]


def poster_maker(run_dir: Path) -> Callable[[str, Mapping[str, Any]], str | None]:
    """Draws (once per face file and controls) the preview a case's video is shown over in the report."""
    from navtalk_sweep.analysis._io import read_face
    from navtalk_sweep.analysis.face import Controls, detect_face
    from navtalk_sweep.analysis.preview import cell, framing, write_png

    faces: dict[str, Any] = {}

    def poster(path: str, request: Mapping[str, Any]) -> str | None:
        if path not in faces:
            try:
                frames = read_face(Path(path).read_bytes())
            except OSError:
                frames = []
            face = detect_face(frames[0]) if frames else None
            faces[path] = (frames[0], face, framing(face)) if face is not None else None
        found = faces[path]
        if found is None:
            return None
        controls = Controls.of(request)
        name = hashlib.sha256(f"{path}|{controls!r}".encode()).hexdigest()[:16]
        dest = run_dir / "posters" / f"{name}.png"
        if not dest.is_file():
            dest.parent.mkdir(exist_ok=True)
            write_png(dest, cell(found[0], found[1], controls, controls.label(), found[2]))
        return dest.relative_to(run_dir).as_posix()

    return poster


def _analysed(video: Path, face: Path | None, request: Mapping[str, Any] | None) -> tuple[VideoMetrics | None, tuple[str, ...]]:
    """``analyse_video`` of ``video`` against the ``face`` file the request sent (None when the decoder choked on
    the video), and the notes on that face."""
    from navtalk_sweep.analysis._io import read_face
    from navtalk_sweep.analysis.face import Controls
    from navtalk_sweep.analysis.metrics import Reference, analyse_video

    reference = None
    notes: tuple[str, ...] = ()
    if face is not None:
        try:
            frames = read_face(face.read_bytes(), limit=2)  # the first frame, and whether there is a second
        except OSError:
            frames = []
        if frames:
            reference = Reference(frames[0], Controls.of(request or {}), still=len(frames) == 1)
        else:
            unread = f"the face that was sent ({face.name}) could not be read: what the controls changed is not measured"
            notes = (unread,)
    elif request is not None and request.get("character_name"):
        notes = ("a built-in character's face is not known here: what the controls changed is not measured",)
    try:
        return analyse_video(video, reference=reference), notes
    except Exception as exc:  # noqa: BLE001 - a video the decoder chokes on is a note, not a lost run
        return None, (f"could not measure the video: {one_line(str(exc))}",)


def measure_video(video: Path, run_dir: Path, face: Path | None = None,
                  request: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Record fields measured in a downloaded video: ``metrics``, ``notes``, ``images`` (the mouth strip).

    Given the ``face`` file the request sent, also what the video changed of it for the request's controls."""
    from navtalk_sweep.analysis.preview import write_png

    found, notes = _analysed(video, face, request)
    if found is None:
        return {"notes": notes}
    out: dict[str, Any] = {"metrics": found.values, "notes": (*notes, *found.notes)}
    if found.mouth_strip is not None:
        strip = video.with_suffix(".mouths.png")
        write_png(strip, found.mouth_strip)
        out["images"] = {"mouths": strip.relative_to(run_dir).as_posix()}
    return out


def measure_again(video: Path, names: tuple[str, ...], face: Path | None = None,
                  request: Mapping[str, Any] | None = None) -> dict[str, float] | None:
    """The measures ``names`` of a stored video as this code computes them (those it can), writing nothing; None
    when the video cannot be measured."""
    found, _ = _analysed(video, face, request)
    return None if found is None else {name: found.values[name] for name in names if name in found.values}
