"""``obt dashboard-url``: a Looker Studio Linking API URL over the OBT and the star schema views."""

from __future__ import annotations

import argparse
from urllib.parse import parse_qsl, urlsplit

import pytest

from obt.config import Settings
from obt_tools.analytics import looker
from obt_tools.cli import COMMAND_MODULES, dashboard

VIEWS = ["fact_movie_analytics", "dim_date", "dim_device", "dim_location", "dim_os", "dim_browser"]


def test_url_names_every_table_from_the_settings() -> None:
    settings = Settings.from_env({"OBT_ENV": "gcp", "OBT_PROJECT": "acme-prod", "OBT_DATASET": "analytics_eu",
                                  "OBT_TABLE": "obt_v2"})  # fmt: skip
    url = looker.linking_url(settings, report_id="1a2b-3c4d")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://lookerstudio.google.com/reporting/create"
    params = parse_qsl(parts.query, strict_parsing=True)
    assert params[:2] == [("c.reportId", "1a2b-3c4d"), ("r.reportName", "Movie analytics (OBT)")]
    expected = []
    for i, table in enumerate(["obt_v2", *VIEWS]):
        expected += [
            (f"ds.ds{i}.connector", "bigQuery"),
            (f"ds.ds{i}.type", "TABLE"),
            (f"ds.ds{i}.projectId", "acme-prod"),
            (f"ds.ds{i}.datasetId", "analytics_eu"),
            (f"ds.ds{i}.tableId", table),
            (f"ds.ds{i}.datasourceName", table),
        ]
    assert params[2:] == expected


def test_values_are_percent_encoded() -> None:
    settings = Settings(project="p&x=1", obt_dataset="d s", obt_table="t/1")
    url = looker.linking_url(settings, report_id="a b", report_name="R&D / 100%")
    query = urlsplit(url).query
    assert "c.reportId=a%20b" in query and "r.reportName=R%26D%20%2F%20100%25" in query
    assert "ds.ds0.projectId=p%26x%3D1" in query and "ds.ds0.datasetId=d%20s" in query
    assert "ds.ds0.tableId=t%2F1" in query and " " not in url
    assert dict(parse_qsl(query))["ds.ds0.projectId"] == "p&x=1"


def test_without_a_template_report_the_parameter_is_left_out() -> None:
    assert "c.reportId" not in looker.linking_url(Settings(project="acme"))


def test_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert "obt_tools.cli.dashboard" in COMMAND_MODULES
    for name, value in {"OBT_ENV": "gcp", "OBT_PROJECT": "acme-prod", "OBT_DATASET": "movies"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("OBT_TABLE", raising=False)
    parser = argparse.ArgumentParser()
    dashboard.register(parser.add_subparsers())
    args = parser.parse_args(["dashboard-url", "--report-id", "tmpl-1"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    settings = Settings.from_env()
    assert out == looker.linking_url(settings, "tmpl-1") + "\n"
    assert "ds.ds0.projectId=acme-prod" in out and "ds.ds0.datasetId=movies" in out
    assert "ds0=obt, ds1=fact_movie_analytics" in err and "local default project" not in err
