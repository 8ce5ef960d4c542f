"""The business questions, answered with how sure each answer is.

A leader among near-equal counts is usually chance: each answer says whether its difference is larger than chance
(a chi-square test against an even spread, or a 95% interval against the even or overall value), so the report
never presents noise as a finding.
"""

from __future__ import annotations

from dataclasses import dataclass

from obt_tools.analytics import stats
from obt_tools.analytics.formatting import p_value, pct, pct_interval, signed
from obt_tools.analytics.insights import Insights

APPLE_OS = ("Apple iOS", "Apple MacOS")


@dataclass(frozen=True)
class Answer:
    question: str
    answer: str
    certainty: str
    beyond_chance: bool | None  # None: nothing to test


def _spread_note(what: str, counts: list[int]) -> tuple[str, bool | None]:
    test = stats.even_spread(counts)
    if test is None:
        return "too few counts to test", None
    figures = f"χ² = {test.chi2:.1f}, {test.df} df, {p_value(test.p_value)}"
    if test.beyond_chance:
        return f"{what} differ by more than chance ({figures})", True
    return f"{what} are what an even spread gives by chance ({figures}): the ranking is noise", False


def _states(insights: Insights) -> Answer:
    top = [r for r in insights.extreme_states("most") if r.rank == 1]
    bottom = [r for r in insights.extreme_states("fewest") if r.rank == 1]
    answer = (
        "most: " + ", ".join(f"{r.state} ({r.reviews:,})" for r in top)
        + "; fewest: " + ", ".join(f"{r.state} ({r.reviews:,})" for r in bottom)
    )  # fmt: skip
    counts = [s.reviews for s in insights.by_state]
    note, beyond = _spread_note(f"the {len(counts)} states' review counts", counts)
    return Answer("Which states have the most and the fewest reviews?", answer, note, beyond)


def _computer_chrome(insights: Insights) -> Answer:
    question = "Which state has the most reviews on a Computer in Chrome?"
    top = insights.top_state_computer_chrome
    if top is None:
        return Answer(question, "none in the data", "", None)
    # States without a single such review count as 0 in the test.
    counts = [r.reviews for r in insights.computer_chrome_by_state]
    counts += [0] * max(0, insights.key_figures.states - len(counts))
    note, beyond = _spread_note("the states' Computer + Chrome counts", counts)
    return Answer(question, f"{top.state} ({top.reviews:,})", note, beyond)


def _ca_ny_tx(insights: Insights) -> Answer:
    apple_all = sum(s.reviews for s in insights.by_os if s.name in APPLE_OS)
    total = insights.key_figures.reviews
    overall = apple_all / total if total else None
    parts, notes, outside = [], [], []
    for r in insights.ca_ny_tx:
        interval = stats.wilson(r.apple_reviews, r.reviews)
        share = r.apple_reviews / r.reviews if r.reviews else None
        parts.append(f"{r.state} {r.reviews:,} ({r.apple_reviews:,} on Apple OS, {pct(share)})")
        notes.append(f"{r.state} {pct_interval(interval)}")
        if interval is not None and overall is not None and not interval.contains(overall):
            outside.append(r.state)
    verdict = (
        f"differs from the overall {pct(overall)} beyond chance in {', '.join(outside)}"
        if outside
        else f"each within chance of the overall {pct(overall)}"
    )
    certainty = f"share on Apple OS, 95% intervals: {'; '.join(notes)}; {verdict}"
    question = "How many reviews in California, New York and Texas, and how many on Apple OS?"
    return Answer(question, "; ".join(parts), certainty, bool(outside))


def _top_devices(insights: Insights) -> list[Answer]:
    answers = []
    for d in insights.top_device_by_region:
        even = 1 / d.devices if d.devices else None
        interval = stats.wilson(d.reviews, d.region_reviews)
        beyond = interval is not None and even is not None and not interval.contains(even)
        verdict = "above an even split" if beyond else "not distinguishable from an even split"
        answers.append(
            Answer(
                f"Which device has the most reviews in the {d.region}?",
                f"{d.device} ({d.reviews:,} of {d.region_reviews:,} reviews, {pct(d.share_of_region)})",
                f"95% interval {pct_interval(interval)} against an even split of {pct(even)} over {d.devices} "
                f"devices: {verdict}",
                beyond,
            )
        )
    return answers


def _spending(insights: Insights) -> Answer:
    s = insights.spend_summary
    r = s.corr_spent_positive_share
    interval = stats.correlation_interval(r, s.customers_with_purchases) if r is not None else None
    if interval is None:
        certainty, beyond = "too few customers with purchases to tell", None
    else:
        beyond = not interval.contains(0.0)
        verdict = "a relation beyond chance" if beyond else "no detectable relation"
        certainty = f"95% interval {signed(interval.low, 2)} to {signed(interval.high, 2)}: {verdict}"
    return Answer(
        "Do customers who spend more review more positively?",
        f"correlation of amount spent with positive-review share r = {signed(r)} over "
        f"{s.customers_with_purchases:,} customers with purchases",
        certainty,
        beyond,
    )


def answers(insights: Insights) -> list[Answer]:
    return [
        _states(insights),
        _computer_chrome(insights),
        _ca_ny_tx(insights),
        *_top_devices(insights),
        _spending(insights),
    ]
