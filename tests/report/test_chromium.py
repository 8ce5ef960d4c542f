"""The report in headless Debian Chromium, offline: every panel drawn without a console error, a tooltip under the
real mouse pointer, the date filter redrawing the charts, sortable tables, CSV exports and a screenshot."""

from __future__ import annotations

import csv
import io
import re
import struct
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import pytest

from obt_tools.analytics import report, stats
from tests.report import chromium
from tests.report.conftest import collect
from tests.report.synthetic_obt import synthetic_records

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium.executable() is None,
        reason="Debian chromium is not installed: `make test` installs it (scripts/system-deps.sh), "
        "or run `apt-get install chromium`",
    ),
]

PANELS = ["filters", "freshness", "overview", "questions", "reviews", "purchases", "sentiment"]
CHARTS = ["quality", "trend", "state", "region", "device", "os", "browser", "season", "cohort", "spend", "spend_share"]


@pytest.fixture(scope="module")
def data(loaded_state: Path) -> report.ReportData:
    return collect(loaded_state)


@pytest.fixture(scope="module")
def page_file(data: report.ReportData, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return report.write_report(data, tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[chromium.Browser]:
    with chromium.Browser(tmp_path_factory.mktemp("chromium"), width=1280, height=900) as b:
        yield b


@pytest.fixture
def page(browser: chromium.Browser, page_file: Path) -> Iterator[chromium.Browser]:
    """The report freshly loaded; the test fails on any console error it causes."""
    browser.errors.clear()
    browser.open(page_file)
    yield browser
    assert browser.errors == []


def csv_of(browser: chromium.Browser, chart: str) -> list[dict[str, str]]:
    href = browser.evaluate(f'document.querySelector("#chart-{chart} a.csv").href')
    prefix = "data:text/csv;charset=utf-8,"
    assert href.startswith(prefix)
    return list(csv.DictReader(io.StringIO(unquote(href[len(prefix) :]))))


def set_dates(browser: chromium.Browser, first: str, last: str) -> None:
    # What the browser does when a reader commits a date: set the value, fire "change".
    browser.evaluate(
        f'for (const [id, v] of [["date-from", "{first}"], ["date-to", "{last}"]]) {{'
        " const input = document.getElementById(id); input.value = v;"
        ' input.dispatchEvent(new Event("change", {bubbles: true})); }'
    )


def test_every_panel_and_chart_is_drawn(page: chromium.Browser) -> None:
    assert page.evaluate('[...document.querySelectorAll("[data-panel]")].map(e => e.id)') == PANELS
    drawn = page.evaluate(
        '[...document.querySelectorAll("figure[data-chart]")].map(f => [f.id.slice(6), '
        'f.querySelectorAll("svg [data-tip]").length])'
    )
    assert [name for name, _ in drawn] == CHARTS
    assert all(marks > 0 for _, marks in drawn), drawn
    assert page.evaluate('document.querySelectorAll("#state-table tbody tr").length') == 50
    assert page.evaluate('document.querySelectorAll("#dq-table tbody tr").length') == 4
    assert "20,000 reviews on 304 days" in page.evaluate('document.getElementById("selection").textContent')
    assert "tagger is not loaded" in page.evaluate('document.getElementById("tagger-status").textContent')


def test_every_mark_has_a_tooltip(page: chromium.Browser) -> None:
    # Bars, dots and hit areas: nothing drawn as data lacks tooltip text.
    bare = page.evaluate(
        '[...document.querySelectorAll("figure svg rect, figure svg circle")]'
        '.filter(e => !e.closest("[data-tip]")).length'
    )
    assert bare == 0


@pytest.mark.parametrize("chart", CHARTS)
def test_a_tooltip_follows_the_pointer(page: chromium.Browser, chart: str) -> None:
    assert page.evaluate('document.getElementById("tip").hidden') is True
    page.hover(f"#chart-{chart} svg [data-tip]")
    tip = page.evaluate('[document.getElementById("tip").hidden, document.getElementById("tip").textContent]')
    expected = page.evaluate(f'document.querySelector("#chart-{chart} svg [data-tip]").getAttribute("data-tip")')
    assert tip == [False, expected]
    page.hover("header h1")
    assert page.evaluate('document.getElementById("tip").hidden') is True


def test_state_tooltip_agrees_with_python(page: chromium.Browser, data: report.ReportData) -> None:
    page.hover("#chart-state svg g[data-tip]")
    text = page.evaluate('document.getElementById("tip").textContent')
    name = text.split(" (")[0]
    state = next(s for s in data.insights.by_state if s.state == name)
    interval = stats.wilson(state.positive_reviews, state.reviews)
    assert f"{state.reviews:,} reviews, {state.positive_reviews:,} positive" in text
    assert f"95% interval {interval.low * 100:.1f}–{interval.high * 100:.1f}%" in text
    # Sorted by share, so the first state has the highest one.
    assert state.positive_share == max(s.positive_share for s in data.insights.by_state)


def test_the_date_filter_redraws_the_charts(page: chromium.Browser) -> None:
    months = 'document.querySelectorAll("#chart-trend svg rect[data-tip]").length'
    assert page.evaluate(months) == 10
    cohort_before = csv_of(page, "cohort")
    set_dates(page, "2021-06-01", "2021-07-31")
    assert page.evaluate(months) == 2
    expected = sum(r[8] for r in synthetic_records(20_000) if date(2021, 6, 1) <= r[1] <= date(2021, 7, 31))
    assert sum(int(r["reviews"]) for r in csv_of(page, "state")) == expected
    assert sum(int(r["reviews"]) for r in csv_of(page, "trend")) == expected
    assert f"{expected:,} reviews on 61 days" in page.evaluate('document.getElementById("selection").textContent')
    # Purchase views are per customer and say they ignore review dates.
    assert csv_of(page, "cohort") == cohort_before
    page.click("#date-reset")
    assert page.evaluate(months) == 10


def test_an_empty_date_range_says_so(page: chromium.Browser) -> None:
    set_dates(page, "2022-01-01", "2022-02-01")
    assert page.evaluate('document.querySelector("#chart-state .empty").textContent') == (
        "No reviews in the selected dates."
    )
    assert page.evaluate('document.getElementById("selection").textContent') == "no reviews in these dates"


def test_tables_sort_on_a_header_click(page: chromium.Browser) -> None:
    page.click("#reviews details summary")
    column = '[...document.querySelectorAll("#state-table tbody tr")].map(r => parseFloat(r.cells[2].dataset.v))'
    page.click("#state-table th:nth-child(3)")
    assert page.evaluate(column) == sorted(page.evaluate(column))
    page.click("#state-table th:nth-child(3)")
    assert page.evaluate(column) == sorted(page.evaluate(column), reverse=True)
    assert page.evaluate('document.querySelector("#state-table th:nth-child(3)").getAttribute("aria-sort")') == (
        "descending"
    )
    # The order holds when the date filter refills the table.
    set_dates(page, "2021-03-01", "2021-03-31")
    assert page.evaluate(column) == sorted(page.evaluate(column), reverse=True)
    page.click("#dq-table th:nth-child(4)")
    sources = '[...document.querySelectorAll("#dq-table tbody tr")].map(r => r.cells[0].textContent)'
    assert page.evaluate(sources) == ["review_log_join", "movie_review", "log_reviews", "user_purchase"]


def test_csv_exports(page: chromium.Browser) -> None:
    states = csv_of(page, "state")
    assert len(states) == 50
    assert list(states[0]) == ["state", "reviews", "positive_reviews", "positive_share", "ci95_low", "ci95_high"]
    assert sum(int(r["reviews"]) for r in states) == 20_000
    quality = csv_of(page, "quality")
    assert {"source": "user_purchase", "measure": "quarantined", "reason": "missing_customer", "rows": "137769",
            "share_of_read": "0.25423"} in quality  # fmt: skip
    assert len(csv_of(page, "spend_share")) > 800


def test_tagger_section_with_the_model_loaded(browser: chromium.Browser, tagged_state: Path, tmp_path: Path) -> None:
    html = report.write_report(collect(tagged_state), tmp_path)
    browser.errors.clear()
    browser.open(html)
    assert browser.errors == []
    assert browser.evaluate('document.querySelectorAll("#chart-model svg circle.model").length') == 10
    tiles = browser.evaluate(
        '["model-rule", "model-share", "model-score"].map(i => document.getElementById(i).textContent)'
    )
    assert all(re.fullmatch(r"\d+\.\d%|0\.\d{3}", t) for t in tiles), tiles
    assert tiles[0] != tiles[1]  # the synthetic model disagrees with the rule on some customers
    browser.hover("#chart-model svg g[data-tip]")
    assert "rule" in browser.evaluate('document.getElementById("tip").textContent')


def test_console_errors_are_caught(browser: chromium.Browser, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("bad"); undefinedThing();</script></body></html>')
    browser.errors.clear()
    browser.open(page)
    assert browser.errors[0] == "bad" and "undefinedThing is not defined" in browser.errors[1]


def test_screenshot(page: chromium.Browser, tmp_path: Path) -> None:
    png = page.screenshot(tmp_path / "report.png", full_page=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1280 and height > 3000
    # A blank page compresses to a few kilobytes; charts and text do not.
    assert len(data) > 200_000


def test_docs_image_is_drawn(loaded_state: Path, tmp_path: Path) -> None:
    target = chromium.draw_docs_image(loaded_state, tmp_path / "report.png")
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
