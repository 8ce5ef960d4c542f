"""The few statistics the report needs to say how sure a difference is, in the standard library only.

The report's JavaScript computes the same Wilson interval (``report.html``) for date ranges picked in the browser;
``tests/report/test_chromium.py`` checks that the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

Z95 = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def wilson(successes: int, trials: int, z: float = Z95) -> Interval | None:
    """95% Wilson score interval of a proportion: unlike ``p ± z·se`` it stays within 0..1 and works for
    small counts and shares near 0 or 1. None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z / (1 + z2 / trials) * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def chi2_sf(x: float, df: int) -> float:
    """P(X >= x) for a chi-square variable with ``df`` degrees of freedom (exact closed forms, in log space so
    large counts neither overflow nor underflow)."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if x <= 0:
        return 1.0
    half = x / 2
    if df % 2 == 0:
        terms = (math.exp(-half + i * math.log(half) - math.lgamma(i + 1)) for i in range(df // 2))
        return min(1.0, math.fsum(terms))
    terms = (math.exp(-half + (j - 0.5) * math.log(half) - math.lgamma(j + 0.5)) for j in range(1, (df + 1) // 2))
    return min(1.0, math.erfc(math.sqrt(half)) + math.fsum(terms))


@dataclass(frozen=True)
class EvenSpread:
    """Chi-square goodness of fit of counts against an even spread over ``groups`` groups."""

    chi2: float
    df: int
    p_value: float

    @property
    def beyond_chance(self) -> bool:
        return self.p_value < 0.05


def even_spread(counts: Sequence[int]) -> EvenSpread | None:
    """Are the counts consistent with every group being equally likely? None for fewer than two groups or no
    counts. Groups with no count at all must be passed as 0."""
    total = sum(counts)
    if len(counts) < 2 or total <= 0:
        return None
    expected = total / len(counts)
    chi2 = sum((c - expected) ** 2 for c in counts) / expected
    df = len(counts) - 1
    return EvenSpread(chi2, df, chi2_sf(chi2, df))


def correlation_interval(r: float, n: int, z: float = Z95) -> Interval | None:
    """95% interval of a Pearson correlation (Fisher z); None when there are too few pairs."""
    if n <= 3 or not -1 < r < 1:
        return None
    centre, half = math.atanh(r), z / math.sqrt(n - 3)
    return Interval(math.tanh(centre - half), math.tanh(centre + half))
