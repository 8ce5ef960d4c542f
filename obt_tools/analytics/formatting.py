"""How the report writes numbers: one place, so that a share reads the same in every panel."""

from __future__ import annotations

from decimal import Decimal

from obt_tools.analytics.stats import Interval


def pct(share: float | None, digits: int = 1) -> str:
    return "n/a" if share is None else f"{share:.{digits}%}"


def pct_interval(interval: Interval | None) -> str:
    """``37.5–38.1%``: the 95% interval of a share."""
    if interval is None:
        return "n/a"
    return f"{interval.low * 100:.1f}–{interval.high * 100:.1f}%"


def signed(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:+.{digits}f}"


def money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
