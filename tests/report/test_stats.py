"""The report's statistics against textbook values."""

from __future__ import annotations

import pytest

from obt_tools.analytics import stats


@pytest.mark.parametrize(
    ("x", "df"),
    # The 5% critical values of chi-square tables.
    [(3.841459, 1), (5.991465, 2), (7.814728, 3), (11.070498, 5), (66.338649, 49), (124.342113, 100)],
)
def test_chi2_sf_at_the_five_percent_critical_values(x: float, df: int) -> None:
    assert stats.chi2_sf(x, df) == pytest.approx(0.05, abs=1e-6)


def test_chi2_sf_edges() -> None:
    assert stats.chi2_sf(0, 4) == 1.0
    assert stats.chi2_sf(10_000, 49) == pytest.approx(0.0, abs=1e-300)
    with pytest.raises(ValueError):
        stats.chi2_sf(1.0, 0)


def test_wilson_interval() -> None:
    # Wilson (1927) / Newcombe (1998) worked example: 81 of 263, 95% interval 0.2553..0.3662.
    interval = stats.wilson(81, 263)
    assert (interval.low, interval.high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    # It never leaves 0..1, even with no or only successes.
    assert stats.wilson(0, 10).low == pytest.approx(0.0, abs=1e-12)
    assert stats.wilson(10, 10).high == pytest.approx(1.0)
    assert stats.wilson(0, 0) is None


def test_even_spread() -> None:
    assert stats.even_spread([100, 100, 100, 100]).p_value == pytest.approx(1.0)
    assert stats.even_spread([2080, 1911] + [2000] * 48).beyond_chance is False
    assert stats.even_spread([300, 100, 100, 100]).beyond_chance is True
    assert stats.even_spread([5]) is None and stats.even_spread([0, 0]) is None


def test_correlation_interval() -> None:
    interval = stats.correlation_interval(-0.014, 844)
    assert interval.contains(0.0) and interval.low == pytest.approx(-0.0814, abs=1e-3)
    assert stats.correlation_interval(0.5, 3) is None
