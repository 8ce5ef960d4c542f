"""The HTML dashboard: every insight as a chart or table, in one self-contained file.

Charts are matplotlib PNGs embedded as ``data:`` URIs and the styles are inline, so the file opens
offline in any browser, can be mailed or archived, and loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from obt.errors import UserError
from obt.log import get_logger
from obt_tools.analytics import insights as ins

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = get_logger(__name__)

REPORT_NAME = "index.html"

EAST, WEST = "#3b6fb6", "#d9822b"
POSITIVE, OTHER = "#2e8b57", "#c9d3df"
INK = "#1f2933"


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    data_uri: str


def _pyplot():
    # Imported on use: matplotlib is heavy, only the report needs it, and it is an optional extra.
    try:
        import matplotlib
    except ImportError as exc:
        raise UserError("the report draws its charts with matplotlib: pip install 'obt-pipeline[local]'") from exc

    matplotlib.use("Agg")
    # matplotlib's INFO lines (font cache, category units) are noise in the structured logs.
    logging.getLogger("matplotlib").setLevel(logging.WARNING)
    import matplotlib.pyplot as plt

    return plt


_STYLE = {
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.titlesize": 10,
}


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight", metadata={"Software": None})
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _stacked(ax, labels: Sequence[str], positive: Sequence[int], total: Sequence[int]) -> None:
    """Bars of reviews with their positive part, labelled with the positive share."""
    other = [t - p for t, p in zip(total, positive, strict=True)]
    ax.bar(labels, positive, color=POSITIVE)
    ax.bar(labels, other, bottom=positive, color=OTHER)
    for x, (p, t) in enumerate(zip(positive, total, strict=True)):
        ax.annotate(_pct(p / t if t else None), (x, t), ha="center", va="bottom", fontsize=8, color=INK)
    ax.set_ylabel("reviews")
    ax.margins(y=0.12)


def _state_chart(plt, rows: list[ins.StateShare]) -> str:
    fig, ax = plt.subplots(figsize=(12, 3.6))
    labels = [r.state for r in rows]
    colors = [WEST if r.region == "West" else EAST for r in rows]
    ax.bar(labels, [r.reviews for r in rows], color=colors)
    ax.bar(labels, [r.positive_reviews for r in rows], color="none", edgecolor=INK, hatch="///", linewidth=0)
    ax.set_title("Reviews by state (hatched: positive reviews)")
    ax.set_ylabel("reviews")
    ax.tick_params(axis="x", labelrotation=75, labelsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (EAST, WEST)]
    ax.legend(handles, ["East", "West"], frameon=False, loc="lower right", bbox_to_anchor=(1, 1), ncol=2)
    return _png(fig)


def _dimension_chart(plt, title: str, rows: list[ins.Share]) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    # Two-word names ("Microsoft Windows") go on two lines so neighbouring labels never run together.
    labels = [r.name.replace(" ", "\n", 1) for r in rows]
    _stacked(ax, labels, [r.positive_reviews for r in rows], [r.reviews for r in rows])
    ax.set_title(f"{title}: reviews, positive part in green")
    ax.tick_params(axis="x", labelsize=8)
    return _png(fig)


def _ca_ny_tx_chart(plt, rows: list[ins.StateApple]) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r.reviews for r in rows], width=0.4, color=EAST, label="all reviews")
    ax.bar([x + 0.2 for x in xs], [r.apple_reviews for r in rows], width=0.4, color="#8e8e93", label="on Apple OS")
    for x, r in zip(xs, rows, strict=True):
        ax.annotate(f"{r.reviews:,}", (x - 0.2, r.reviews), ha="center", va="bottom", fontsize=8)
        ax.annotate(f"{r.apple_reviews:,}", (x + 0.2, r.apple_reviews), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(list(xs), [r.state for r in rows])
    ax.set_title("California, New York and Texas: all reviews and on Apple OS")
    ax.set_ylabel("reviews")
    ax.margins(y=0.3)
    ax.legend(frameon=False, fontsize=8, loc="upper center", ncol=2)
    return _png(fig)


def _spend_chart(plt, rows: list[ins.CustomerSpend], summary: ins.SpendSummary) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    buyers = [r for r in rows if r.amount_spent is not None and r.amount_spent > 0]
    ax.scatter(
        [float(r.amount_spent or 0) for r in buyers],
        [r.review_score for r in buyers],
        s=10,
        alpha=0.6,
        color=EAST,
        edgecolors="none",
    )
    ax.set_xscale("log")
    ax.set_xlabel("amount spent per customer (log scale)")
    ax.set_ylabel("positive reviews (review score)")
    corr = "n/a" if summary.corr_spent_score is None else f"{summary.corr_spent_score:+.2f}"
    ax.set_title(f"Amount spent vs review score, per customer (r = {corr})")
    return _png(fig)


def _monthly_chart(plt, rows: list[ins.MonthTrend]) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    xs = list(range(len(rows)))
    ax.bar(xs, [r.reviews for r in rows], color=EAST)
    ax.set_xticks(xs, [f"{r.month:%Y-%m}" for r in rows])
    ax.set_ylabel("reviews")
    ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    share = ax.twinx()
    share.plot(xs, [100 * (r.positive_share or 0) for r in rows], color=POSITIVE, marker="o")
    share.set_ylabel("positive share (%)", color=POSITIVE)
    share.set_ylim(0, 100)
    share.spines["top"].set_visible(False)
    ax.set_title("Monthly trend: reviews (bars) and positive share (line)")
    return _png(fig)


def _seasonal_chart(plt, rows: list[ins.SeasonTrend]) -> str:
    fig, ax = plt.subplots(figsize=(5.6, 3.0))
    labels = [r.season for r in rows]
    per_day = [r.reviews_per_day or 0.0 for r in rows]
    ax.bar(labels, per_day, color=["#6c8ebf", "#82b366", "#d6b656", "#b85450"][: len(rows)])
    for x, r in enumerate(rows):
        ax.annotate(
            f"{_pct(r.positive_share)} positive", (x, per_day[x]), ha="center", va="bottom", fontsize=8, color=INK
        )
    ax.set_ylabel("reviews per day")
    ax.margins(y=0.12)
    ax.set_title("Seasonal trend: reviews per day and positive share")
    return _png(fig)


def make_charts(result: ins.Insights) -> list[Chart]:
    plt = _pyplot()
    with plt.rc_context(_STYLE):
        charts = [Chart("states", "Reviews by state", _state_chart(plt, result.by_state))]
        for name, title, rows in (
            ("regions", "Region", result.by_region),
            ("devices", "Device", result.by_device),
            ("os", "Operating system", result.by_os),
            ("browsers", "Browser", result.by_browser),
        ):
            charts.append(Chart(name, title, _dimension_chart(plt, title, rows)))
        spend = _spend_chart(plt, result.spend_by_customer, result.spend_summary)
        charts += [
            Chart("ca_ny_tx", "California, New York and Texas", _ca_ny_tx_chart(plt, result.ca_ny_tx)),
            Chart("spend", "Amount spent vs review score", spend),
            Chart("monthly", "Monthly trend", _monthly_chart(plt, result.monthly)),
            Chart("seasonal", "Seasonal trend", _seasonal_chart(plt, result.seasonal)),
        ]
    return charts


def _e(value: object) -> str:
    return html.escape(str(value))


def _money(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:,.2f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{"num" if i >= numeric_from else ""}">{_e(v)}</td>' for i, v in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _tile(label: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{_e(note)}</div>' if note else ""
    return (
        f'<div class="tile"><div class="label">{_e(label)}</div><div class="value">{_e(value)}</div>{note_html}</div>'
    )


def _figure(chart: Chart, wide: bool = False) -> str:
    cls = "chart wide" if wide else "chart"
    return (
        f'<figure class="{cls}" id="chart-{chart.name}"><img src="{chart.data_uri}" alt="{_e(chart.title)}"></figure>'
    )


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:#1f2933;margin:0;
background:#f4f6f8}
header{background:#1f2933;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}
header .meta{font-size:12px;color:#c9d3df;margin-top:4px}main{padding:12px 24px;max-width:1240px}
h2{font-size:15px;margin:18px 0 8px}h3{font-size:13px;margin:6px 0}.tiles{display:flex;flex-wrap:wrap;gap:10px}
.tile{background:#fff;border-radius:6px;padding:8px 12px;min-width:150px;box-shadow:0 1px 2px #0002}
.tile .label{font-size:11px;color:#52606d;text-transform:uppercase;letter-spacing:.04em}
.tile .value{font-size:19px;font-weight:600}.tile .note{font-size:11px;color:#52606d}
.grid{display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:12px}
.chart{background:#fff;border-radius:6px;margin:0;padding:6px;box-shadow:0 1px 2px #0002}
.chart.wide{grid-column:1/-1}.chart img{max-width:100%;height:auto;display:block;margin:auto}
table{border-collapse:collapse;background:#fff;font-size:12px;margin-bottom:8px}
th,td{padding:3px 10px;border-bottom:1px solid #e4e7eb;text-align:left}td.num{text-align:right}
.tables{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}details{margin:8px 0}
footer{font-size:11px;color:#52606d;padding:12px 24px}
"""


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _key_tiles(k: ins.KeyFigures) -> str:
    return "".join(
        [
            _tile("Reviews", f"{k.reviews:,}", f"{k.positive_reviews:,} positive"),
            _tile("Positive share", _pct(k.positive_share)),
            _tile("Customers", f"{k.customers:,}", f"{k.customers_with_purchases:,} with purchases"),
            _tile("Amount spent", _money(k.amount_spent_total), "counted once per customer"),
            _tile("States", f"{k.states}"),
            _tile("Review dates", f"{k.first_log_date} .. {k.last_log_date}"),
            _tile("OBT rows", f"{k.obt_rows:,}"),
        ]
    )


def _answer_tiles(result: ins.Insights) -> str:
    tiles = []
    for extreme, label in (("most", "Most reviews"), ("fewest", "Fewest reviews")):
        top = [r for r in result.extreme_states(extreme) if r.rank == 1]
        tiles.append(_tile(label, ", ".join(r.state for r in top) or "none", " / ".join(f"{r.reviews:,}" for r in top)))
    chrome = result.top_state_computer_chrome
    tiles.append(
        _tile("Most Computer + Chrome reviews", chrome.state, f"{chrome.reviews:,} reviews")
        if chrome
        else _tile("Most Computer + Chrome reviews", "none")
    )
    for d in result.top_device_by_region:
        note = f"{d.reviews:,} reviews, {_pct(d.share_of_region)} of region"
        tiles.append(_tile(f"Top device, {d.region}", d.device, note))
    apple = sum(r.apple_reviews for r in result.ca_ny_tx)
    tiles.append(
        _tile("CA + NY + TX reviews", f"{sum(r.reviews for r in result.ca_ny_tx):,}", f"{apple:,} on Apple OS")
    )
    return "".join(tiles)


def _section(title: str, table: str) -> str:
    return f"<div><h3>{_e(title)}</h3>{table}</div>"


def _tables(result: ins.Insights) -> str:
    s = result.spend_summary
    extremes = [(r.extreme, r.rank, r.state, f"{r.reviews:,}") for r in result.states_most_fewest]
    big_three = [(r.state, f"{r.reviews:,}", f"{r.apple_reviews:,}") for r in result.ca_ny_tx]
    spend = [
        ("customers", f"{s.customers:,}"),
        ("with purchases", f"{s.customers_with_purchases:,}"),
        ("amount spent (once per customer)", _money(s.amount_spent_total)),
        ("correlation spent / positive reviews", _signed(s.corr_spent_score)),
        ("correlation spent / positive share", _signed(s.corr_spent_positive_share)),
    ]
    seasons = [
        (t.season, t.days, f"{t.reviews:,}", f"{t.reviews_per_day or 0:,.1f}", _pct(t.positive_share))
        for t in result.seasonal
    ]
    return "".join(
        [
            _section("States with the most and fewest reviews", _table(["", "rank", "state", "reviews"], extremes, 3)),
            _section("California, New York, Texas", _table(["state", "reviews", "on Apple OS"], big_three)),
            _section("Amount spent vs review score", _table(["measure", "value"], spend)),
            _section("Seasons", _table(["season", "days", "reviews", "per day", "positive"], seasons)),
        ]
    )


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def render_html(result: ins.Insights, charts: Sequence[Chart], generated_at: datetime) -> str:
    """The whole dashboard as one HTML document (pure: same inputs, same bytes)."""
    build = result.latest_build
    by_name = {c.name: c for c in charts}
    loaded = _utc(build.last_loaded_at) if build.last_loaded_at else "n/a"
    states_table = _table(
        ["state", "region", "reviews", "positive", "positive share"],
        [
            (r.state, r.region, f"{r.reviews:,}", f"{r.positive_reviews:,}", _pct(r.positive_share))
            for r in result.by_state
        ],
        numeric_from=2,
    )
    small = ("regions", "devices", "os", "browsers", "ca_ny_tx", "spend", "monthly", "seasonal")
    grid = _figure(by_name["states"], wide=True) + "".join(_figure(by_name[n]) for n in small)
    iso = generated_at.astimezone(UTC).isoformat()
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="obt report"><meta name="build-id" content="{_e(build.build_id)}">
<title>Movie analytics report — {_e(build.build_id)}</title><style>{_CSS}</style></head>
<body><header><h1>Movie analytics: reviews and purchases</h1>
<div class="meta">Generated <time id="generated-at" datetime="{iso}">{_utc(generated_at)}</time>
 · build <code id="build-id">{_e(build.build_id)}</code> (loaded {_e(loaded)})
 · source <code>movie_analytics.obt</code></div></header>
<main><h2>Key figures</h2><div class="tiles">{_key_tiles(result.key_figures)}</div>
<h2>Answers</h2><div class="tiles">{_answer_tiles(result)}</div>
<h2>Charts</h2><div class="grid">{grid}</div>
<h2>Tables</h2><div class="tables">{_tables(result)}</div>
<details><summary>All states</summary>{states_table}</details></main>
<footer>Review score counts positive reviews; positive share = positive reviews / reviews. Amount spent is a
per-customer figure, counted once per customer. Queries: obt_tools/analytics/sql/*.sql (BigQuery SQL).</footer>
</body></html>
"""


def write_report(result: ins.Insights, out_dir: Path, generated_at: datetime | None = None) -> Path:
    """Write ``OUT/index.html``; replaced atomically so a reader never sees half a report."""
    generated_at = generated_at or datetime.now(UTC)
    charts = make_charts(result)
    document = render_html(result, charts, generated_at)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    tmp = target.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(target)
    log.info(
        "report written",
        path=str(target),
        build_id=result.latest_build.build_id,
        charts=len(charts),
        bytes=len(document.encode("utf-8")),
        reason="obt report",
    )
    return target
