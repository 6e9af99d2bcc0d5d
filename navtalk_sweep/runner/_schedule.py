"""When to poll: start near the expected completion, then poll densely, then back off.

The schedule learns how long tasks take from what the run observes. For a task with
``s`` seconds of speech it looks at the finished tasks with the nearest speech lengths
(nearest neighbours need no model of the service: they follow a clamp at 5 or 20 s and
a spread that grows with the duration, which a straight line would not). Until
``MIN_SAMPLES`` tasks have finished it uses the vendor's figures (5 to 20 s).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import NamedTuple

#: the vendor's "a task usually takes 5 to 20 seconds"
PRIOR_FIRST_POLL = 5.0
MIN_SAMPLES = 3
NEIGHBOURS = 16
#: never poll the same task twice within this many seconds
MIN_DELAY = 0.25


class Window(NamedTuple):
    """When tasks like this one ended: the 5th percentile, the first poll's quantile, the 95th percentile."""

    earliest: float
    first: float
    latest: float


@dataclass
class PollSchedule:
    """Delays between polls for one run, adapting to observed durations."""

    dense_interval: float = 1.5  # once a task is due: bounds the mean detection lag to about half of this
    max_interval: float = 10.0  # for tasks long overdue: the cap on detection lag
    prior_first_poll: float = PRIOR_FIRST_POLL
    samples: list[tuple[float, float]] = field(default_factory=list)  # (speech seconds, duration), sorted
    #: where among similar tasks' durations the first poll goes. The 5th percentile took 3.34 calls per task
    #: at 0.76 s mean lag; the median 2.13 at 0.83 s; 0.65, 1.86 at 0.92 s; 0.8, 1.59 at 1.10 s
    #: (benchmarks/bench_runner.py (b), vendor timing): 0.65 is the fewest calls within a 1 s mean lag
    first_quantile: float = 0.65
    #: windows by speech length, with the sample count they were computed from
    _cache: dict[float, tuple[int, Window]] = field(default_factory=dict, repr=False)

    def observe(self, speech_seconds: float, low: float, high: float) -> None:
        """A task finished between ``low`` and ``high`` seconds after submit."""
        bisect.insort(self.samples, (speech_seconds, (low + high) / 2))
        if len(self.samples) > 2000:
            del self.samples[len(self.samples) // 2]  # keep the spread of speech lengths, drop from the middle

    def expected(self, speech_seconds: float) -> Window | None:
        """The window a task of this speech length usually ends in."""
        if len(self.samples) < MIN_SAMPLES:
            return None
        key = round(speech_seconds, 1)
        n = len(self.samples)
        cached = self._cache.get(key)
        # recomputed as the run learns, but not after every finished task: after 10 % more (at least 4)
        if cached is None or n - cached[0] >= max(4, cached[0] // 10):
            cached = self._cache[key] = (n, self._window(speech_seconds))
        return cached[1]

    def _window(self, speech: float) -> Window:
        s = self.samples
        i = bisect.bisect_left(s, (speech, float("-inf")))
        lo, hi = max(0, i - NEIGHBOURS), min(len(s), i + NEIGHBOURS)
        # the NEIGHBOURS nearest speech lengths, with every sample that ties with the farthest one
        radius = sorted(abs(x - speech) for x, _ in s[lo:hi])[min(NEIGHBOURS, hi - lo) - 1]
        while lo > 0 and abs(s[lo - 1][0] - speech) <= radius:
            lo -= 1
        while hi < len(s) and abs(s[hi][0] - speech) <= radius:
            hi += 1
        durations = sorted(d for x, d in s[lo:hi] if abs(x - speech) <= radius)
        n = len(durations)
        earliest, latest = durations[int(0.05 * n)], durations[max(0, -(-95 * n // 100) - 1)]
        first = durations[min(n - 1, int(self.first_quantile * n))]
        return Window(max(0.5, earliest), max(0.5, first), max(0.5, latest))

    def first_delay(self, speech_seconds: float) -> float:
        """The first poll: at ``first_quantile`` of the window (the median), or the prior before any is known."""
        window = self.expected(speech_seconds)
        if window is None:
            return self.prior_first_poll
        return window.first

    def next_delay(self, speech_seconds: float, elapsed: float) -> float:
        """How long to wait after a poll at ``elapsed`` seconds that saw the task unfinished."""
        window = self.expected(speech_seconds)
        latest = window.latest if window else self.prior_first_poll * 4
        if window and elapsed < window.first - MIN_DELAY:
            return window.first - elapsed
        if elapsed <= latest + self.dense_interval:
            return self.dense_interval
        # overdue: back off geometrically, but never past the lag cap
        overdue = elapsed - latest
        return min(self.max_interval, max(self.dense_interval, overdue * 0.5))
