"""When to poll: start near the expected completion, then poll densely, then back off.

The schedule learns how long tasks take from what the run observes: a least-squares
line of duration against speech length, and the spread of what it misses by. Until
three tasks have finished it uses the vendor's figures (5 to 20 s).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: the vendor's "a task usually takes 5 to 20 seconds"
PRIOR_FIRST_POLL = 5.0
MIN_SAMPLES = 3
#: never poll the same task twice within this many seconds
MIN_DELAY = 0.25


@dataclass
class PollSchedule:
    """Delays between polls for one run, adapting to observed durations."""

    dense_interval: float = 1.5  # once a task is due: bounds the mean detection lag to about half of this
    max_interval: float = 10.0  # for tasks long overdue: the cap on detection lag
    prior_first_poll: float = PRIOR_FIRST_POLL
    samples: list[tuple[float, float]] = field(default_factory=list)  # (speech seconds, duration)

    def observe(self, speech_seconds: float, low: float, high: float) -> None:
        """A task finished between ``low`` and ``high`` seconds after submit."""
        self.samples.append((speech_seconds, (low + high) / 2))
        if len(self.samples) > 500:
            del self.samples[0]

    def _fit(self) -> tuple[float, float, float, float]:
        """(intercept, slope, lowest residual, highest residual) of duration over speech length."""
        xs = [s for s, _ in self.samples]
        ys = [d for _, d in self.samples]
        n = len(xs)
        mx, my = sum(xs) / n, sum(ys) / n
        var = sum((x - mx) ** 2 for x in xs)
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var > 1e-9 else 0.0
        intercept = my - slope * mx
        residuals = sorted(y - (intercept + slope * x) for x, y in zip(xs, ys, strict=True))
        k = max(0, int(len(residuals) * 0.05))
        return intercept, slope, residuals[k], residuals[-1 - k]

    def expected(self, speech_seconds: float) -> tuple[float, float] | None:
        """The window (earliest, latest) a task of this speech length usually ends in."""
        if len(self.samples) < MIN_SAMPLES:
            return None
        a, b, lo, hi = self._fit()
        centre = a + b * speech_seconds
        return max(0.5, centre + lo), max(0.5, centre + hi)

    def first_delay(self, speech_seconds: float) -> float:
        window = self.expected(speech_seconds)
        return self.prior_first_poll if window is None else window[0]

    def next_delay(self, speech_seconds: float, elapsed: float) -> float:
        """How long to wait after a poll at ``elapsed`` seconds that saw the task unfinished."""
        window = self.expected(speech_seconds)
        latest = window[1] if window else self.prior_first_poll * 4
        if window and elapsed < window[0] - MIN_DELAY:
            return window[0] - elapsed
        if elapsed <= latest + self.dense_interval:
            return self.dense_interval
        # overdue: back off geometrically, but never past the lag cap
        overdue = elapsed - latest
        return min(self.max_interval, max(self.dense_interval, overdue * 0.5))
