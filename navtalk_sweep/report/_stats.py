"""How sure a number is: a mean with its 95 % interval over repeats, and whether two settings differ.

One video per setting tells nothing of the service's noise, so a single value has no
interval and two single values are never "separated": the report says "repeat to
separate" instead of ranking noise. With repeats, the interval is Student's t over the
repeats, and two settings are separated when Welch's 95 % interval of their difference
excludes zero (B. L. Welch, Biometrika 34, 1947; quantiles from any t table).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

#: Student's t, 97.5th percentile, by degrees of freedom 1..30 (two-sided 95 %); beyond: the normal's 1.96
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t975(df: float) -> float:
    if df < 1:
        return _T975[0]
    if df > len(_T975):
        return 1.96
    return _T975[int(df) - 1]  # rounding df down: the wider interval


@dataclass(frozen=True)
class Estimate:
    """A measure of one setting over its repeats."""

    mean: float
    n: int
    sd: float | None  # None with one value

    @property
    def half_width(self) -> float | None:
        """Half the 95 % interval of the mean; None when one value cannot say."""
        if self.sd is None:
            return None
        return t975(self.n - 1) * self.sd / math.sqrt(self.n)

    @property
    def low(self) -> float | None:
        hw = self.half_width
        return None if hw is None else self.mean - hw

    @property
    def high(self) -> float | None:
        hw = self.half_width
        return None if hw is None else self.mean + hw

    def text(self, digits: int) -> str:
        hw = self.half_width
        return f"{self.mean:.{digits}f}" + (f" ± {hw:.{digits}f}" if hw is not None else "")


def estimate(values: Sequence[float]) -> Estimate | None:
    if not values:
        return None
    if len(values) == 1:
        return Estimate(float(values[0]), 1, None)
    return Estimate(statistics.fmean(values), len(values), statistics.stdev(values))


def separated(a: Estimate, b: Estimate) -> bool | None:
    """True when the two means differ beyond the noise (Welch, 95 %); None when either is one value."""
    if a.sd is None or b.sd is None:
        return None
    va, vb = a.sd ** 2 / a.n, b.sd ** 2 / b.n
    if va + vb == 0:
        return a.mean != b.mean
    df = (va + vb) ** 2 / ((va ** 2 / (a.n - 1)) + (vb ** 2 / (b.n - 1))) if va and vb else min(a.n, b.n) - 1
    return abs(a.mean - b.mean) > t975(df) * math.sqrt(va + vb)


def digits_to_separate(values: Sequence[float], most: int = 4) -> int:
    """The decimals that tell the values apart: distinct values print distinct, and one printed step is at
    most a tenth of their spread (0.860 and 0.879 need three; 0.5 and 0.7 two), at most ``most``."""
    distinct = sorted(set(values))
    if len(distinct) < 2:
        return min(most, 2)
    spread = distinct[-1] - distinct[0]
    d = max(0, math.ceil(-math.log10(spread / 10)))
    while d < most and len({round(v, d) for v in distinct}) < len(distinct):
        d += 1
    return min(d, most)
