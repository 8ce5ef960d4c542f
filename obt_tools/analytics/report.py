"""The HTML report: an analyst's tool in one self-contained file.

The page (``report.html``) holds its styles and a small script; the data it draws is embedded as JSON, per day
where the review-date filter applies, so the charts (inline SVG), tooltips, date filter, sortable tables and CSV
exports work offline in any browser, and nothing is loaded from the network.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obt.config import Settings
from obt.log import get_logger
from obt_tools.analytics import insights as ins
from obt_tools.analytics import panels
from obt_tools.analytics.daily import DailyCube, ModelDaily, daily_cube, model_daily
from obt_tools.analytics.operations import Operations, collect_operations
from obt_tools.analytics.questions import answers

log = get_logger(__name__)

REPORT_NAME = "index.html"
TEMPLATE = Path(__file__).with_name("report.html")
TITLE = "Movie analytics: reviews and purchases"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class ReportData:
    insights: ins.Insights
    operations: Operations
    cube: DailyCube
    model: ModelDaily | None  # None: the review tagger's columns are not in the OBT
    source: str  # the OBT as dataset.table


def collect_report(warehouse: ins.Warehouse, settings: Settings | None = None) -> ReportData:
    """Everything the report shows, from the warehouse (a clear error when the OBT is empty)."""
    result = ins.collect(warehouse, settings)
    cube = daily_cube(warehouse, settings)
    source = f"{settings.obt_dataset}.{settings.obt_table}" if settings else f"{ins.DATASET}.{ins.TABLE}"
    return ReportData(
        insights=result,
        operations=collect_operations(warehouse, result.latest_build.build_id, settings),
        cube=cube,
        model=model_daily(warehouse, cube.days, settings),
        source=source,
    )


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def payload(data: ReportData) -> dict[str, Any]:
    """The JSON the page's script draws from (see report.html for how each part is used)."""
    cube = data.cube
    any_dimension = next(iter(cube.dimensions.values()))
    # Every row is in exactly one value of each dimension, so any dimension's values add up to the daily totals.
    total_reviews = [sum(day) for day in zip(*(s.reviews for s in any_dimension.values()), strict=True)]
    total_positive = [sum(day) for day in zip(*(s.positive for s in any_dimension.values()), strict=True)]
    model = data.model
    return {
        "days": [d.isoformat() for d in cube.days],
        "total": {"reviews": total_reviews, "positive": total_positive},
        "dimensions": {
            dimension: [{"name": name, "reviews": s.reviews, "positive": s.positive} for name, s in values.items()]
            for dimension, values in cube.dimensions.items()
        },
        "state_region": {s.state: s.region for s in data.insights.by_state},
        # [customer_id, amount_spent, count_invoices, first_invoice_date, last_invoice_date, reviews, positive]
        "customers": [
            [
                c.customer_id,
                None if c.amount_spent is None else float(c.amount_spent),
                c.count_invoices,
                _iso(c.first_invoice_date),
                _iso(c.last_invoice_date),
                c.reviews,
                c.review_score,
            ]
            for c in data.insights.spend_by_customer
        ],  # fmt: skip
        "dq": [
            {"source": c.source, "measure": c.measure, "reason": c.reason, "rows": c.row_count}
            for c in data.operations.dq_counts
            if c.measure != "unknown_location"
        ],
        "model": None
        if model is None
        else {
            "tagged": model.tagged_reviews,
            "positive": model.model_positive,
            "scored": model.scored_reviews,
            "score_sum": model.score_sum,
        },
    }


def _json_for_script(value: Any) -> str:
    # Inside <script> only "</script" or "<!--" could end the element early: no "<" is left in the JSON text.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _invoice_dates(result: ins.Insights) -> tuple[str, str] | None:
    firsts = [c.first_invoice_date for c in result.spend_by_customer if c.first_invoice_date]
    lasts = [c.last_invoice_date for c in result.spend_by_customer if c.last_invoice_date]
    return (min(firsts).isoformat(), max(lasts).isoformat()) if firsts and lasts else None


def render_html(data: ReportData, generated_at: datetime) -> str:
    """The whole report as one HTML document (pure: same inputs, same bytes)."""
    result, ops = data.insights, data.operations
    loaded_at = ops.load.finished_at if ops.load else result.latest_build.last_loaded_at
    k = result.key_figures
    body = "".join(
        [
            panels.header(TITLE, ops.build_id, loaded_at, data.source, generated_at),
            panels.filters(str(k.first_log_date), str(k.last_log_date), data.model is not None),
            "<main><noscript><p>The charts, the date filter and the state table need JavaScript; the other tables "
            "are complete without it.</p></noscript>",
            panels.freshness(result, ops, _invoice_dates(result)),
            panels.overview(result),
            panels.questions(answers(result)),
            panels.reviews(),
            panels.purchases(result),
            panels.sentiment(data.model is not None),
            "</main>",
            panels.FOOTER,
        ]
    )
    values = {
        "build_id": panels.e(ops.build_id),
        "title": panels.e(f"{TITLE} — {ops.build_id}"),
        "body": body,
        "data": _json_for_script(payload(data)),
    }
    # One pass: text inserted for one placeholder is never searched for another.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], TEMPLATE.read_text(encoding="utf-8"))


def write_report(data: ReportData, out_dir: Path, generated_at: datetime | None = None) -> Path:
    """Write ``OUT/index.html``; replaced atomically so a reader never sees half a report."""
    document = render_html(data, generated_at or datetime.now(UTC))
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / REPORT_NAME
    tmp = target.with_name(f".{REPORT_NAME}.{os.getpid()}.tmp")
    tmp.write_text(document, encoding="utf-8")
    tmp.replace(target)
    log.info(
        "report written",
        path=str(target),
        build_id=data.operations.build_id,
        model_loaded=data.model is not None,
        bytes=len(document.encode("utf-8")),
        reason="obt report",
    )
    return target
