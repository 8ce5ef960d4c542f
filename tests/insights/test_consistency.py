"""On a realistic synthetic OBT, every insight agrees with the same answer computed in plain Python from the rows."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from decimal import Decimal

import pytest

from obt_tools.analytics import insights
from tests.insights.obt_fixture import create_obt
from tests.report.synthetic_obt import synthetic_records

# Column positions in the synthetic records (the OBT's column order).
CUSTOMER, DAY, SEASON, DEVICE, STATE, REGION, OS, BROWSER, COUNT, SCORE, AMOUNT = range(11)


@pytest.fixture(scope="module")
def rows() -> list[tuple]:
    return synthetic_records(reviews=5_000, customers=300, seed=11)


@pytest.fixture(scope="module")
def result(rows, tmp_path_factory: pytest.TempPathFactory) -> insights.Insights:
    return insights.collect(create_obt(tmp_path_factory.mktemp("consistency") / "w.duckdb", rows))


def totals(rows, key) -> Counter:
    counter: Counter = Counter()
    for row in rows:
        counter[key(row)] += row[COUNT]
    return counter


def test_breakdowns_add_up(rows, result: insights.Insights) -> None:
    assert {s.state: s.reviews for s in result.by_state} == totals(rows, lambda r: r[STATE])
    for attribute, column in (("by_region", REGION), ("by_device", DEVICE), ("by_os", OS), ("by_browser", BROWSER)):
        assert {s.name: s.reviews for s in getattr(result, attribute)} == totals(rows, lambda r, c=column: r[c])
        assert sum(s.positive_reviews for s in getattr(result, attribute)) == sum(r[SCORE] for r in rows)


def test_questions(rows, result: insights.Insights) -> None:
    by_state = totals(rows, lambda r: r[STATE])
    assert max(by_state.values()) == next(r.reviews for r in result.extreme_states("most") if r.rank == 1)
    assert min(by_state.values()) == next(r.reviews for r in result.extreme_states("fewest") if r.rank == 1)

    chrome = totals([r for r in rows if r[DEVICE] == "Computer" and r[BROWSER] == "Chrome"], lambda r: r[STATE])
    best = max(chrome.values())
    assert result.top_state_computer_chrome == insights.StateReviews(
        min(s for s, n in chrome.items() if n == best), best
    )

    apple = totals([r for r in rows if r[OS] in ("Apple iOS", "Apple MacOS")], lambda r: r[STATE])
    assert [(r.state, r.reviews, r.apple_reviews) for r in result.ca_ny_tx] == [
        (s, by_state[s], apple[s]) for s in ("California", "New York", "Texas")
    ]

    for top in result.top_device_by_region:
        devices = totals([r for r in rows if r[REGION] == top.region], lambda r: r[DEVICE])
        assert top.reviews == max(devices.values()) and devices[top.device] == top.reviews


def test_spend_per_customer(rows, result: insights.Insights) -> None:
    amount: dict[int, Decimal | None] = {}
    score: defaultdict[int, int] = defaultdict(int)
    for r in rows:
        amount[r[CUSTOMER]] = r[AMOUNT]
        score[r[CUSTOMER]] += r[SCORE]
    assert {c.customer_id: (c.amount_spent, c.review_score) for c in result.spend_by_customer} == {
        c: (amount[c], score[c]) for c in amount
    }
    buyers = [c for c, a in amount.items() if a is not None]
    assert result.spend_summary.amount_spent_total == sum(amount[c] for c in buyers)
    assert result.key_figures.amount_spent_total == result.spend_summary.amount_spent_total
    assert result.spend_summary.corr_spent_score == pytest.approx(
        statistics.correlation([float(amount[c]) for c in buyers], [score[c] for c in buyers])
    )


def test_trends(rows, result: insights.Insights) -> None:
    assert {f"{m.month:%Y-%m}": m.reviews for m in result.monthly} == totals(rows, lambda r: r[DAY].strftime("%Y-%m"))
    assert {s.season: s.reviews for s in result.seasonal} == totals(rows, lambda r: r[SEASON])
    days = defaultdict(set)
    for r in rows:
        days[r[SEASON]].add(r[DAY])
    assert {s.season: s.days for s in result.seasonal} == {k: len(v) for k, v in days.items()}
