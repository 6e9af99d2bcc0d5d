"""Looking at faces and videos: face-control geometry, previews, the simulated render, video metrics.

Needs the ``face`` extra (MediaPipe's face mesh, OpenCV, PyAV); import the submodules
(``analysis.face``, ``analysis.metrics``, ``analysis.preview``, ``analysis.render``) where they
are used, so that the core stays light. :func:`available` says whether they can work here.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec

__all__ = ["available"]


@cache
def available() -> bool:
    """Whether the ``face`` extra is installed (nothing heavy is imported to find out).

    Asked once a process: each search scans the import path under the import lock, and the mock asks
    for every result video (a tenth of a 5,000-case run's CPU, and threads queueing on the lock).
    """
    return all(find_spec(name) is not None for name in ("mediapipe", "cv2", "av", "numpy"))
