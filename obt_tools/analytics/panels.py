"""The report's static HTML: header, date filter, panels of facts and tables, and the empty chart frames the page's
script draws into (``report.html``). Everything from the data is escaped here."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from obt_tools.analytics import stats
from obt_tools.analytics.daily import MODEL_COLUMNS
from obt_tools.analytics.formatting import money, pct, pct_interval
from obt_tools.analytics.insights import Insights
from obt_tools.analytics.operations import DqCount, Operations
from obt_tools.analytics.questions import Answer


def e(value: object) -> str:
    return html.escape(str(value))


def utc(moment: datetime | None) -> str:
    return "n/a" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Figure:
    """A chart frame: ``kind`` names the drawing function of report.html, ``filtered`` whether the review-date
    filter redraws it, ``attrs`` its extra ``data-*`` settings."""

    name: str
    kind: str
    title: str
    note: str
    wide: bool = False
    filtered: bool = True
    attrs: tuple[tuple[str, str], ...] = ()


def figure(f: Figure) -> str:
    data = "".join(f' data-{k}="{e(v)}"' for k, v in f.attrs)
    return (
        f'<figure class="chart{" wide" if f.wide else ""}" id="chart-{e(f.name)}" data-chart="{e(f.kind)}" '
        f'data-filtered="{"true" if f.filtered else "false"}"{data}><figcaption><span class="title">{e(f.title)}'
        f'</span><a class="csv" href="#" download="{e(f.name)}.csv" title="download the data of this chart">CSV</a>'
        f'</figcaption><div class="plot"></div><p class="note">{e(f.note)}</p></figure>'
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], table_id: str, numeric: Sequence[int] = ()) -> str:
    """A sortable table. Cells of the ``numeric`` columns are ``(text, number)`` pairs: the number goes to
    ``data-v``, which the page sorts by."""
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{e(h)}</th>" for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            if i in numeric and isinstance(value, tuple):
                text, raw = value
                cells.append(f'<td class="num" data-v="{e(raw)}">{e(text)}</td>')
            else:
                cells.append(f"<td>{e(value)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<table class="sortable" id="{e(table_id)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def tile(label: str, value: str, note: str = "", value_id: str = "") -> str:
    ident = f' id="{e(value_id)}"' if value_id else ""
    note_html = f'<div class="note">{e(note)}</div>' if note else ""
    return (
        f'<div class="tile"><div class="label">{e(label)}</div><div class="value"{ident}>{e(value)}</div>'
        f"{note_html}</div>"
    )


def header(title: str, build_id: str, loaded_at: datetime | None, source: str, generated_at: datetime) -> str:
    iso = generated_at.astimezone(UTC).isoformat()
    return (
        f'<header><h1>{e(title)}</h1><div class="meta">Generated '
        f'<time id="generated-at" datetime="{iso}">{utc(generated_at)}</time> · build <code id="build-id">'
        f"{e(build_id)}</code> (loaded {e(utc(loaded_at))}) · source <code>{e(source)}</code></div></header>"
    )


LEGEND = (
    ("reviews", "reviews"),
    ("positive", "positive share (rule)"),
    ("model", "positive share (model)"),
    ("customers", "customers"),
    ("spend", "amount spent"),
    ("kept", "rows kept"),
    ("quarantined", "rows quarantined"),
    ("reference", "all reviews in the dates"),
)


def filters(first: str, last: str, model_loaded: bool) -> str:
    bounds = f'min="{e(first)}" max="{e(last)}"'
    shown = [(cls, text) for cls, text in LEGEND if model_loaded or cls != "model"]
    legend = "".join(f'<span><span class="sw {cls}"></span>{e(text)}</span>' for cls, text in shown)
    return (
        '<nav class="filters" id="filters" data-panel="filters" aria-label="review dates">'
        f'<label>Review dates from <input type="date" id="date-from" {bounds} value="{e(first)}"></label>'
        f'<label>to <input type="date" id="date-to" {bounds} value="{e(last)}"></label>'
        '<button type="button" id="date-reset">All dates</button><span id="selection"></span>'
        f'<span class="legend" aria-label="colours">{legend}</span></nav>'
    )


def rows_vs_reviews(insights: Insights) -> str:
    k = insights.key_figures
    if k.reviews == k.obt_rows:
        why = "every key holds exactly one review"
    else:
        keys, extra = k.rows_with_several_reviews, k.reviews - k.obt_rows
        why = (
            f"{keys:,} of those keys {'holds' if keys == 1 else 'hold'} more than one review (review_count above 1): "
            f"{extra:,} {'review shares' if extra == 1 else 'reviews share'} a row with another"
        )
    return (
        f"The OBT has {k.obt_rows:,} rows for {k.reviews:,} reviews: it holds one row per customer, day, device, "
        f"location, OS and browser, and {why}."
    )


def _sources(dq: Sequence[DqCount]) -> list[tuple[object, ...]]:
    """One row per source: read, kept, quarantined (total, share, by reason) and whether they add up."""
    read: dict[str, int] = {}
    kept: dict[str, int] = {}
    quarantined: dict[str, list[DqCount]] = {}
    for c in dq:
        if c.measure == "read":
            read[c.source] = c.row_count
        elif c.measure == "kept":
            kept[c.source] = c.row_count
        elif c.measure == "quarantined":
            quarantined.setdefault(c.source, []).append(c)
    rows: list[tuple[object, ...]] = []
    for source in read:
        n_read, n_kept, reasons = read[source], kept.get(source, 0), quarantined.get(source, [])
        lost = sum(q.row_count for q in reasons)
        share = lost / n_read if n_read else 0.0
        rows.append(
            (
                source,
                (f"{n_read:,}", n_read),
                (f"{n_kept:,}", n_kept),
                (f"{lost:,}", lost),
                (pct(share, 2), share),
                ", ".join(f"{q.reason} {q.row_count:,}" for q in reasons) or "-",
                "yes" if n_read == n_kept + lost else f"no: off by {n_read - n_kept - lost:,}",
            )
        )
    return rows


def _facts(insights: Insights, ops: Operations, invoices: tuple[str, str] | None) -> list[tuple[str, str]]:
    """(name, HTML) pairs: which build, when it was built and loaded, how fresh its inputs are."""
    if ops.load is None:
        facts = [("build", f"<code>{e(ops.build_id)}</code> (named by the OBT's rows: the ledger records no load)")]
    else:
        load = ops.load
        seconds = (load.stage_seconds or 0) + (load.merge_seconds or 0)
        changes = (
            f"+{load.rows_inserted or 0:,} ~{load.rows_updated or 0:,} -{load.rows_deleted or 0:,} rows "
            f"of {load.rows_staged or 0:,} staged"
        )
        facts = [
            ("build", f"<code>{e(ops.build_id)}</code>"),
            ("build done, load started", e(utc(load.started_at))),
            ("loaded", f"{e(utc(load.finished_at))} (stage and MERGE took {seconds:.1f} s)"),
            ("load changed", e(changes)),
        ]
    if insights.latest_build.build_id != ops.build_id:
        facts.append(("OBT rows last changed by", f"<code>{e(insights.latest_build.build_id)}</code>"))
    facts += [(f"ingest date, {d.label}", e(", ".join(d.ingest_dates))) for d in ops.input_dates]
    if not ops.input_dates:
        facts.append(("ingest dates", "not recorded (no ledger row with the build's inputs)"))
    k = insights.key_figures
    facts.append(("reviews dated", e(f"{k.first_log_date} to {k.last_log_date}")))
    if invoices:
        facts.append(("customers' invoices dated", e(f"{invoices[0]} to {invoices[1]}")))
    return facts


def freshness(insights: Insights, ops: Operations, invoices: tuple[str, str] | None) -> str:
    """Build, load and input dates, why OBT rows differ from reviews, and the build's data-quality counts.
    ``invoices``: the first and last invoice date of the OBT's customers, if any has purchases."""
    dl = "".join(f"<dt>{e(name)}</dt><dd>{value}</dd>" for name, value in _facts(insights, ops, invoices))
    quality = Figure(
        "quality", "quality", "Rows kept and quarantined per source", "Each bar is 100% of the rows the build read "
        "from that source; hover a part for its reason and count. Quarantined rows are kept with their reason in "
        "the curated bucket.", filtered=False,
    )  # fmt: skip
    unknown = [c for c in ops.dq_counts if c.measure == "unknown_location"]
    unknown_html = (
        "<p>Log locations kept but not recognised as a US state: "
        + e(", ".join(f"{c.reason} ({c.row_count:,})" for c in unknown))
        + "</p>"
        if unknown
        else ""
    )
    headers = ["source", "read", "kept", "quarantined", "share quarantined", "quarantined by reason", "adds up"]
    dq_table = (
        table(headers, _sources(ops.dq_counts), "dq-table", numeric=(1, 2, 3, 4))
        if ops.dq_counts
        else f"<p>No data-quality counts are recorded for build {e(ops.build_id)}.</p>"
    )
    return (
        '<section id="freshness" data-panel="freshness"><h2>Data freshness and quality</h2><div class="two">'
        f'<div class="panel"><dl class="facts">{dl}</dl><p id="rows-vs-reviews">{e(rows_vs_reviews(insights))}</p>'
        f"</div>{figure(quality)}</div>"
        f"<h3>Rows per source in build <code>{e(ops.build_id)}</code> (obt_ops.dq_counts)</h3>{dq_table}{unknown_html}"
        "</section>"
    )


def overview(insights: Insights) -> str:
    k = insights.key_figures
    interval = pct_interval(stats.wilson(k.positive_reviews, k.reviews))
    tiles = [
        tile("Reviews", f"{k.reviews:,}", f"{k.positive_reviews:,} positive"),
        tile("Positive share", pct(k.positive_share), f"95% interval {interval}"),
        tile("Customers", f"{k.customers:,}", f"{k.customers_with_purchases:,} with purchases"),
        tile("Amount spent", money(k.amount_spent_total), "counted once per customer"),
        tile("Review dates", f"{k.first_log_date} .. {k.last_log_date}"),
        tile("OBT rows", f"{k.obt_rows:,}", "one per customer, day, device, location, OS, browser"),
    ]  # fmt: skip
    return (
        '<section id="overview" data-panel="overview"><h2>Key figures</h2>'
        f'<p class="lead">All review dates.</p><div class="tiles">{"".join(tiles)}</div></section>'
    )


def questions(answers: Sequence[Answer]) -> str:
    def verdict(a: Answer) -> str:
        return "-" if a.beyond_chance is None else "yes" if a.beyond_chance else "no"

    rows = [(a.question, a.answer, a.certainty, verdict(a)) for a in answers]
    return (
        '<section id="questions" data-panel="questions"><h2>Questions</h2><p class="lead">All review dates. '
        "“Beyond chance” means the difference is larger than random variation would produce 19 times in 20; a leader "
        "that is not beyond chance is not a finding.</p>"
        + table(["question", "answer", "how sure", "beyond chance"], rows, "questions-table")
        + "</section>"
    )


REVIEW_FIGURES = (
    Figure("trend", "trend", "Reviews and positive share by month",
           "Bars: reviews per month. Dots: share the rule marks positive, with its 95% interval; dashed: all reviews "
           "in the dates. A month cut by the date range counts only its days inside it.", wide=True),
    Figure("state", "breakdown", "Positive share by state, highest first",
           "Dots: positive share with its 95% (Wilson) interval; dashed: all states. Bars: reviews. States whose "
           "intervals overlap the dashed line are not told apart from the average by this data.", wide=True,
           attrs=(("dimension", "state"), ("sort", "share"))),
    Figure("region", "breakdown", "Region", "Bars: reviews; dots: positive share, 95% interval.",
           attrs=(("dimension", "region"),)),
    Figure("device", "breakdown", "Device", "Bars: reviews; dots: positive share, 95% interval.",
           attrs=(("dimension", "device"),)),
    Figure("os", "breakdown", "Operating system", "Bars: reviews; dots: positive share, 95% interval.",
           attrs=(("dimension", "os"),)),
    Figure("browser", "breakdown", "Browser", "Bars: reviews; dots: positive share, 95% interval.",
           attrs=(("dimension", "browser"),)),
    Figure("season", "breakdown", "Season",
           "Bars: reviews per day with reviews (seasons span different numbers of days); dots: positive share.",
           attrs=(("dimension", "season"), ("volume", "per-day"))),
)  # fmt: skip

PURCHASE_FIGURES = (
    Figure("cohort", "cohort", "Customers and their spend by month of first purchase",
           "Customers counted in the month of their first invoice, with everything they spent.", filtered=False),
    Figure("spend", "spend", "Amount spent per customer", "Customers per spend range, ranges on a log scale.",
           filtered=False),
)  # fmt: skip


def reviews() -> str:
    # Filled by the page for the picked dates.
    head = ["state", "region", "reviews", "positive", "positive share", "95% interval"]
    state_table = table(head, [], "state-table", numeric=(2, 3, 4, 5))
    return (
        '<section id="reviews" data-panel="reviews"><h2>Reviews</h2><p class="lead">Follows the review dates picked '
        "above. Positive means the rule-based review score. Bars start at 0; share axes may start higher to show "
        "differences, and then say where they start.</p>"
        f'<div class="grid">{"".join(figure(f) for f in REVIEW_FIGURES)}</div>'
        f"<details><summary>All states as a table (click a header to sort)</summary>{state_table}</details></section>"
    )


def purchases(insights: Insights) -> str:
    s = insights.spend_summary
    scatter = Figure(
        "spend_share", "spendShare", "Amount spent and positive-review share, per customer",
        f"Correlation of amount spent with positive-review share: r = {s.corr_spent_positive_share or 0:+.3f} over "
        f"{s.customers_with_purchases:,} customers with purchases (see Questions for its interval).",
        wide=True, filtered=False,
    )  # fmt: skip
    return (
        '<section id="purchases" data-panel="purchases"><h2>Purchases</h2><p class="lead">Per customer, from the '
        "OBT's purchase columns (amount spent, number of invoices, first and last invoice dates) of the "
        f"{s.customers_with_purchases:,} reviewing customers with purchases; the review-date filter does not apply. "
        "Country and product views need a purchases table the OBT does not carry.</p>"
        f'<div class="grid">{"".join(figure(f) for f in PURCHASE_FIGURES)}{figure(scatter)}</div></section>'
    )


def sentiment(model_loaded: bool) -> str:
    columns = " and ".join(f"<code>{c}</code>" for c in MODEL_COLUMNS)
    if not model_loaded:
        return (
            '<section id="sentiment" data-panel="sentiment"><h2>Model-based sentiment</h2>'
            f'<p id="tagger-status">The review tagger is not loaded: no OBT row has {columns} values (builds '
            "without a tagger model leave them empty). Once it has, this section sets the model's positive share "
            "next to the rule's, month by month, with 95% intervals."
            "</p></section>"
        )
    tiles = (
        tile("Positive share, rule", "n/a", "review_score / reviews", "model-rule")
        + tile("Positive share, model", "n/a", "predicted_positive / tagged reviews", "model-share")
        + tile("Mean sentiment score", "n/a", "sentiment_score, weighted by reviews", "model-score")
    )
    chart = Figure(
        "model", "model", "Positive share by rule and by model, per month",
        "Green: the rule; purple: the review tagger. Intervals that do not overlap mean rule and model disagree "
        "beyond chance that month.", wide=True,
    )  # fmt: skip
    return (
        '<section id="sentiment" data-panel="sentiment"><h2>Model-based sentiment</h2>'
        f'<p id="tagger-status">The review tagger is loaded ({columns}); follows the review dates picked above.</p>'
        f'<div class="tiles">{tiles}</div><div class="grid">{figure(chart)}</div></section>'
    )


FOOTER = (
    "<footer>Positive share = reviews the rule marks positive (review_score) / reviews. 95% intervals are Wilson "
    "score intervals; correlation intervals use Fisher's z. Amount spent is a per-customer figure, counted once per "
    "customer. Each chart's CSV button downloads the data it shows. Queries: obt_tools/analytics/sql/*.sql "
    "(BigQuery SQL).</footer>"
)
