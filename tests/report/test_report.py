"""The HTML dashboard: self-contained, stamped with time and build, every insight present; the CLI around it."""

from __future__ import annotations

import base64
import re
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from obt_tools import cli
from obt_tools.analytics import insights, report

NOW = datetime(2026, 11, 23, 12, 30, 5, tzinfo=UTC)
CHARTS = {"states", "regions", "devices", "os", "browsers", "ca_ny_tx", "spend", "monthly", "seasonal"}


@pytest.fixture(scope="module")
def document(small_insights: insights.Insights) -> str:
    return report.render_html(small_insights, report.make_charts(small_insights), NOW)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_every_chart_is_an_embedded_png(document: str) -> None:
    figures = re.findall(
        r'<figure class="chart[^"]*" id="chart-([a-z_]+)"><img src="data:image/png;base64,([^"]+)"', document
    )
    assert {name for name, _ in figures} == CHARTS
    for _, payload in figures:
        width, height = png_size(base64.b64decode(payload))
        assert width > 100 and height > 100


def test_nothing_is_fetched_from_elsewhere(document: str) -> None:
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", document)
    assert "<script" not in document and "<link" not in document
    assert "url(" not in document and "@import" not in document


def test_timestamp_and_build_id(document: str) -> None:
    assert '<time id="generated-at" datetime="2026-11-23T12:30:05+00:00">2026-11-23 12:30:05 UTC</time>' in document
    assert '<code id="build-id">obt-bbbbbbbbbbbbbbbbbbbb</code> (loaded 2026-11-21 09:00:00 UTC)' in document


def test_answers_are_shown(document: str) -> None:
    text = re.sub(r"<[^>]+>", "|", document)
    for answer in (
        "Most reviews||Oregon||8",
        "Fewest reviews||Florida||2",
        "Most Computer + Chrome reviews||Texas||5 reviews",
        "Top device, East||Computer||6 reviews, 50.0% of region",
        "Top device, West||Tablet||6 reviews, 46.2% of region",
        "CA + NY + TX reviews||15||7 on Apple OS",
        "Amount spent||2,110.50||counted once per customer",
        "amount spent (once per customer)||2,110.50",
    ):
        assert answer in text, answer


def test_render_is_deterministic(small_insights: insights.Insights, document: str) -> None:
    assert report.render_html(small_insights, report.make_charts(small_insights), NOW) == document


def test_names_are_escaped(small_insights: insights.Insights) -> None:
    import dataclasses

    hostile = dataclasses.replace(small_insights, top_state_computer_chrome=insights.StateReviews("<b>Texas</b>", 5))
    charts = [report.Chart(name, name, "data:image/png;base64,") for name in CHARTS]
    html = report.render_html(hostile, charts, NOW)
    assert "&lt;b&gt;Texas&lt;/b&gt;" in html and "<b>Texas" not in html


def test_cli_writes_the_report(small_state: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert cli.main(["report", "--out", str(out), "--state-dir", str(small_state)]) == 0
    page = (out / "index.html").read_text()
    assert "obt-bbbbbbbbbbbbbbbbbbbb" in page and page.count("data:image/png;base64,") == len(CHARTS)
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
    [row] = warehouse.query("SELECT SUM(review_count) AS reviews FROM movie_analytics.fact_movie_analytics")
    assert row["reviews"] == 25
