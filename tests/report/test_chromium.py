"""The report rendered by headless Debian Chromium, offline: every chart is drawn and a screenshot comes out."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import insights, report
from tests.report import chromium
from tests.report.synthetic_obt import create_synthetic_warehouse

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium.executable() is None,
        reason="Debian chromium is not installed: `make test` installs it (scripts/system-deps.sh), "
        "or run `apt-get install chromium`",
    ),
]


@pytest.fixture(scope="module")
def realistic_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("chromium")
    path = work / "warehouse.duckdb"
    create_synthetic_warehouse(path, reviews=20_000)
    result = insights.collect(DuckDbWarehouse(Settings(state_dir=work, warehouse_path=path)))
    return report.write_report(result, work / "report")


def test_every_chart_is_drawn(realistic_report: Path, tmp_path: Path) -> None:
    images, drawn = chromium.rendered_image_counts(realistic_report, tmp_path)
    assert images == 9
    assert drawn == images


def test_a_broken_chart_would_be_caught(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!DOCTYPE html><html><body><img src="data:image/png;base64,AAAA"></body></html>')
    assert chromium.rendered_image_counts(page, tmp_path) == (1, 0)


def test_screenshot(realistic_report: Path, tmp_path: Path) -> None:
    png = chromium.screenshot(realistic_report, tmp_path / "shot.png", tmp_path, width=1024, height=1400)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1024, 1400)
    from PIL import Image

    with Image.open(png) as image:
        # A blank or error page has a handful of colours; charts with anti-aliased text have hundreds.
        assert len(image.convert("RGB").getcolors(maxcolors=1 << 20)) > 200
