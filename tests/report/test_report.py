"""The HTML report as a file: self-contained, stamped with time and build, every panel and answer present, the
embedded data consistent with the warehouse; the CLI around it. (How it behaves in a browser: test_chromium.py.)"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from obt_tools import cli
from obt_tools.analytics import insights, report
from obt_tools.analytics.operations import input_dates
from tests.insights.obt_fixture import ROWS
from tests.report.conftest import collect
from tests.report.synthetic_obt import synthetic_build_id, synthetic_records

NOW = datetime(2026, 11, 23, 12, 30, 5, tzinfo=UTC)
PANELS = {"filters", "freshness", "overview", "questions", "reviews", "purchases", "sentiment"}
CHARTS = {"quality", "trend", "state", "region", "device", "os", "browser", "season", "cohort", "spend", "spend_share"}


@pytest.fixture(scope="module")
def document(small_data: report.ReportData) -> str:
    return report.render_html(small_data, NOW)


@pytest.fixture(scope="module")
def loaded_document(loaded_state: Path) -> str:
    return report.render_html(collect(loaded_state), NOW)


def text_of(document: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "|", document))


def embedded(document: str) -> dict:
    [raw] = re.findall(r'<script type="application/json" id="report-data">(.*?)</script>', document, re.S)
    return json.loads(raw)


def test_every_panel_and_chart_is_present(document: str) -> None:
    assert set(re.findall(r'data-panel="([a-z]+)"', document)) == PANELS
    charts = re.findall(r'<figure class="chart[^"]*" id="chart-([a-z_]+)" data-chart="([A-Za-z]+)"', document)
    assert {name for name, _ in charts} == CHARTS
    # Every chart has its CSV button, named after the chart.
    assert set(re.findall(r'<a class="csv" href="#" download="([a-z_]+)\.csv"', document)) == CHARTS
    for control in ('id="date-from"', 'id="date-to"', 'id="date-reset"', 'id="state-table"', 'id="tip"'):
        assert control in document


def test_nothing_is_fetched_from_elsewhere(document: str) -> None:
    # Links only to "#" (CSV buttons get a data: URI in the browser); no external script, style, font or image.
    assert set(re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", document)) == {"#"}
    assert "<link" not in document and "<img" not in document and "@import" not in document
    assert "url(" not in document and "fetch(" not in document and "XMLHttpRequest" not in document
    assert re.findall(r"<script[^>]*>", document) == ['<script type="application/json" id="report-data">', "<script>"]
    # The only URL is the SVG namespace, an identifier that is never loaded.
    assert set(re.findall(r"https?://[^\s\"'<>]+", document)) == {"http://www.w3.org/2000/svg"}


def test_timestamp_and_build_id_without_a_ledger(document: str) -> None:
    assert '<time id="generated-at" datetime="2026-11-23T12:30:05+00:00">2026-11-23 12:30:05 UTC</time>' in document
    # No load in the ledger: the build is the one the OBT's rows name, loaded when they were.
    assert '<code id="build-id">obt-bbbbbbbbbbbbbbbbbbbb</code> (loaded 2026-11-21 09:00:00 UTC)' in document
    assert "the ledger records no load" in document
    assert "No data-quality counts are recorded for build obt-bbbbbbbbbbbbbbbbbbbb" in document


def test_why_obt_rows_differ_from_reviews(document: str) -> None:
    # Rows with review_count 3, 2, 4, 5, 6, 2 hold several reviews: 25 reviews in 9 rows.
    assert (
        "The OBT has 9 rows for 25 reviews: it holds one row per customer, day, device, location, OS and browser, "
        "and 6 of those keys hold more than one review (review_count above 1): 16 reviews share a row with another."
    ) in text_of(document)


def test_answers_carry_their_uncertainty(document: str) -> None:
    text = text_of(document)
    for answer in (
        "most: Oregon (8); fewest: Florida (2)||the 5 states' review counts are what an even spread gives by chance "
        "(χ² = 3.6, 4 df, p = 0.463): the ranking is noise||no",
        "|Texas (5)||the states' Computer + Chrome counts differ by more than chance (χ² = 15.7, 4 df, p = 0.004)||yes",
        "Computer (6 of 12 reviews, 50.0%)||95% interval 25.4–74.6% against an even split of 33.3% over 3 devices: "
        "not distinguishable from an even split||no",
        "Tablet (6 of 13 reviews, 46.2%)",
        "California 5 (2 on Apple OS, 40.0%); New York 5 (5 on Apple OS, 100.0%); Texas 5 (0 on Apple OS, 0.0%)",
        "differs from the overall 32.0% beyond chance in New York",
        "r = -0.316 over 3 customers with purchases||too few customers with purchases to tell||-",
        "Amount spent||2,110.50||counted once per customer",
        "Positive share||52.0%||95% interval 33.5–70.0%",
    ):
        assert answer in text, answer


def test_embedded_data_matches_the_obt(small_data: report.ReportData, document: str) -> None:
    data = embedded(document)
    assert data["days"] == sorted({r[1] for r in ROWS})
    assert (sum(data["total"]["reviews"]), sum(data["total"]["positive"])) == (25, 13)
    for dimension, values in data["dimensions"].items():
        # Each dimension splits every day's reviews completely.
        per_day = [sum(v["reviews"][i] for v in values) for i in range(len(data["days"]))]
        assert per_day == data["total"]["reviews"], dimension
    states = {v["name"]: (sum(v["reviews"]), sum(v["positive"])) for v in data["dimensions"]["state"]}
    assert states == {s.state: (s.reviews, s.positive_reviews) for s in small_data.insights.by_state}
    assert data["state_region"] == {"Oregon": "West", "California": "West", "New York": "East", "Texas": "East",
                                    "Florida": "East"}  # fmt: skip
    assert data["customers"] == [
        [1, 100.5, 2, "2010-12-01", "2011-12-09", 9, 4],
        [2, 2000.0, 5, "2010-12-01", "2011-12-09", 12, 7],
        [3, None, None, None, None, 3, 1],
        [4, 10.0, 1, "2010-12-01", "2011-12-09", 1, 1],
    ]
    assert [v["name"] for v in data["dimensions"]["season"]] == ["Winter", "Spring", "Summer", "Fall"]
    assert data["dq"] == [] and data["model"] is None


def test_freshness_and_data_quality_from_the_ledger(loaded_state: Path, loaded_document: str) -> None:
    build = synthetic_build_id(20_000)
    text = text_of(loaded_document)
    assert f'<code id="build-id">{build}</code> (loaded 2026-11-23 10:00:00 UTC)' in loaded_document
    for fact in (
        "build done, load started||2026-11-23 09:59:58 UTC",
        "loaded||2026-11-23 10:00:00 UTC (stage and MERGE took 1.2 s)",
        "ingest date, purchases snapshot (extract)||2026-11-23",
        "ingest date, movie reviews (vendor)||2026-11-23",
        "ingest date, review logs (vendor)||2026-11-23",
        "reviews dated||2021-01-01 to 2021-10-31",
    ):
        assert fact in text, fact
    body = loaded_document.split('id="dq-table"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in rows]
    assert [c[0] for c in cells] == ["user_purchase", "movie_review", "log_reviews", "review_log_join"]
    assert cells[0][1:5] == ["541,908", "389,758", "152,150", "28.08%"]
    assert "missing_customer 137,769" in cells[0][5]
    assert {c[6] for c in cells} == {"yes"}
    dq = embedded(loaded_document)["dq"]
    assert {(r["source"], r["measure"], r["reason"]): r["rows"] for r in dq}[
        ("user_purchase", "quarantined", "missing_customer")
    ] == 137_769


def test_embedded_days_follow_the_review_dates(loaded_document: str) -> None:
    data = embedded(loaded_document)
    records = synthetic_records(20_000)
    by_day = Counter()
    for r in records:
        by_day[r[1].isoformat()] += r[8]
    assert dict(zip(data["days"], data["total"]["reviews"], strict=True)) == by_day


def test_ingest_dates_from_ledger_inputs() -> None:
    inputs = {
        "purchases_manifest": "gs://raw/user_purchase/ingest_date=2026-11-24/run_id=r/_MANIFEST.json",
        "purchases": ["gs://raw/user_purchase/ingest_date=2026-11-24/run_id=r/part-00000.csv.gz"],
        "movie_reviews": ["gs://raw/movie_review/ingest_date=2026-11-22/a.csv", "gs://raw/movie_review/x.csv"],
        "log_reviews": [{"uri": "gs://raw/log_reviews/ingest_date=2026-11-23/log_reviews.csv", "generation": 3}],
        "extra": [7, None],
    }
    got = [(d.label, d.ingest_dates) for d in input_dates(json.dumps(inputs))]
    assert got == [
        ("purchases snapshot (extract)", ("2026-11-24",)),
        ("movie reviews (vendor)", ("2026-11-22",)),
        ("review logs (vendor)", ("2026-11-23",)),
    ]
    assert input_dates(None) == input_dates("not json") == input_dates("[1]") == []


def test_tagger_not_loaded(document: str) -> None:
    assert "The review tagger is not loaded: no OBT row has predicted_positive and sentiment_score values" in (
        text_of(document).replace("|", "")
    )
    assert 'id="chart-model"' not in document and "positive share (model)" not in document


def test_tagger_loaded(tagged_state: Path) -> None:
    data = collect(tagged_state)
    assert data.model is not None
    document = report.render_html(data, NOW)
    assert 'id="chart-model" data-chart="model" data-filtered="true"' in document
    assert "The review tagger is loaded" in document
    with duckdb.connect(str(tagged_state / "warehouse.duckdb"), read_only=True) as con:
        positive, scored = con.execute(
            "SELECT SUM(predicted_positive), SUM(sentiment_score * review_count) FROM movie_analytics.obt"
        ).fetchone()
    model = embedded(document)["model"]
    assert sum(model["positive"]) == positive
    assert sum(model["score_sum"]) == pytest.approx(scored)
    assert sum(model["tagged"]) == sum(model["scored"]) == 3_000


def test_render_is_deterministic(small_data: report.ReportData, document: str) -> None:
    assert report.render_html(small_data, NOW) == document


def test_names_are_escaped(small_data: report.ReportData) -> None:
    hostile = "</script><b>Texas</b>"
    result = dataclasses.replace(small_data.insights, computer_chrome_by_state=[insights.StateReviews(hostile, 5)])
    page = report.render_html(dataclasses.replace(small_data, insights=result), NOW)
    assert "&lt;/script&gt;&lt;b&gt;Texas&lt;/b&gt;" in page and "<b>Texas" not in page
    assert "\\u003c" in report._json_for_script({"state": hostile}) and "<" not in report._json_for_script(hostile)


def test_cli_writes_the_report(small_state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["report", "--out", str(out), "--state-dir", str(small_state)]) == 0
    page = (out / "index.html").read_text()
    assert "obt-bbbbbbbbbbbbbbbbbbbb" in page and 'id="report-data"' in page
    printed = capsys.readouterr().out
    assert f"written to {out / 'index.html'}" in printed
    assert "  most Computer + Chrome reviews: Texas (5)" in printed
    # The page is written under a temporary name and renamed: nothing else is left behind.
    assert [p.name for p in out.iterdir()] == ["index.html"]


def test_cli_without_a_warehouse_is_one_clear_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["report", "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert (
        err.strip() == f"obt report: error: no local warehouse at {tmp_path / 'nothing' / 'warehouse.duckdb'}: "
        "run `obt demo` first or pass --state-dir"
    )
    assert not (tmp_path / "out").exists()


def test_cli_on_an_empty_obt(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.insights.obt_fixture import create_obt

    create_obt(tmp_path / "warehouse.duckdb", [])
    assert cli.main(["report", "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path)]) == 2
    assert "movie_analytics.obt is empty" in capsys.readouterr().err


def test_state_dir_beats_the_warehouse_path_from_the_environment(tmp_path: Path) -> None:
    from obt_tools.cli.report import settings_for

    env = {"OBT_WAREHOUSE_PATH": "/elsewhere/w.duckdb", "OBT_STATE_DIR": "/other"}
    assert settings_for(tmp_path, env).warehouse_path == tmp_path / "warehouse.duckdb"
    assert settings_for(None, env).warehouse_path == Path("/elsewhere/w.duckdb")


def test_cli_creates_the_star_schema_views(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.insights.obt_fixture import create_obt, obt_records

    warehouse = create_obt(tmp_path / "warehouse.duckdb", obt_records())
    assert cli.main(["views", "--state-dir", str(tmp_path)]) == 0
    assert "movie_analytics.fact_movie_analytics" in capsys.readouterr().out
    [row] = warehouse.query(
        "SELECT SUM(review_count) AS reviews, COUNT(predicted_positive) + COUNT(sentiment_score) AS scored "
        "FROM movie_analytics.fact_movie_analytics"
    )
    assert (row["reviews"], row["scored"]) == (25, 0)
