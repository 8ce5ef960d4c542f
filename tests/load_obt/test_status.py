"""``obt status``: readable tables of builds, loads and data-quality counts."""

from __future__ import annotations

from rich.console import Console

from obt.config import Settings
from obt.load.messages import parse_message
from obt.load.service import load_build
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools import cli
from obt_tools.status import collect, render_status
from tests.load_obt.builds import CURATED, LocalBuilds, build_id, local_services, message
from tests.warehouse.obt_rows import make_rows


class Objects(LocalBuilds):
    def manifest_uris(self, bucket):
        return list(self.docs)


def test_status_shows_builds_loads_and_dq(tmp_path):
    settings = Settings(state_dir=tmp_path, warehouse_path=tmp_path / "w.duckdb", curated_bucket=CURATED)
    objects = Objects(tmp_path / "gcs")
    warehouse = DuckDbWarehouse(settings, fetch=objects.fetch)
    b = build_id("status")
    objects.add(b, make_rows(25), watermark=3)
    msg = parse_message(message(b), CURATED)
    services = local_services(settings, objects, warehouse)
    load_build(msg, settings, services)
    load_build(msg, settings, services)

    status = collect(settings, warehouse, objects, limit=5)
    assert [r["outcome"] for r in status.loads] == ["skipped", "loaded"]
    console = Console(record=True, width=200)
    render_status(status, console)
    text = console.export_text()
    for expected in (b, "loaded", "already loaded", "missing_customer=2", "user_purchase", "Latest builds"):
        assert expected in text


def test_status_cli_without_local_cloud_or_warehouse(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBT_ENV", "local")
    monkeypatch.setenv("OBT_STATE_DIR", str(tmp_path))
    for name in ("PUBSUB_EMULATOR_HOST", "STORAGE_EMULATOR_HOST", "OBT_DATAPROC_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("OBT_WAREHOUSE_PATH", raising=False)
    assert cli.main(["status"]) == 0
    out = capsys.readouterr().out
    assert "local cloud is not running" in out and "no warehouse yet" in out


def test_status_says_how_many_partitions_each_load_merged(tmp_path):
    settings = Settings(state_dir=tmp_path, warehouse_path=tmp_path / "w.duckdb", curated_bucket=CURATED)
    objects = Objects(tmp_path / "gcs")
    warehouse = DuckDbWarehouse(settings, fetch=objects.fetch)
    services = local_services(settings, objects, warehouse)
    rows = make_rows(24)
    first, second = build_id("status-full"), build_id("status-bounded")
    objects.add(first, rows, watermark=3)
    objects.add(second, rows + [{**rows[0], "log_date": rows[0]["log_date"].replace(month=2)}], watermark=4)
    for build in (first, second, second):
        load_build(parse_message(message(build), CURATED), settings, services)

    console = Console(record=True, width=250)
    render_status(collect(settings, warehouse, objects, limit=5), console)
    text = console.export_text()
    assert "┃ partitions ┃" in text
    # finished, build, outcome, staged, +ins ~upd -del, partitions: per loaded build.
    rows = ([cell.strip() for cell in line.split("│")[1:-1]] for line in text.splitlines() if "│ loaded " in line)
    loads = {cells[1]: cells[4:6] for cells in rows}
    assert loads == {first: ["+24 ~0 -0", "all"], second: ["+1 ~0 -0", "1"]}
