"""What reconcile reads from the load ledger, on both warehouse adapters; and what deploying it needs for that."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

from google.api_core import exceptions as gexc

from obt.config import Settings
from obt.warehouse.base import NO_LEDGER, LedgerSummary
from obt.warehouse.bigquery import BigQueryWarehouse
from obt.warehouse.duckdb import DuckDbWarehouse
from tests.infra.terraform import Config

REPO = Path(__file__).resolve().parents[2]
A, B, C = (f"obt-{c * 20}" for c in "abc")


def _append(warehouse: DuckDbWarehouse, build: str, outcome: str, watermark: int | None) -> None:
    warehouse.query(
        "INSERT INTO obt_ops.load_ledger (build_id, outcome, input_watermark) VALUES (@b, @o, @w)",
        {"b": build, "o": outcome, "w": watermark},
    )


def test_duckdb_ledger_summary(tmp_path):
    warehouse = DuckDbWarehouse(Settings(warehouse_path=tmp_path / "w.duckdb", state_dir=tmp_path))
    assert warehouse.ledger_summary([A]) == NO_LEDGER, "no ledger table yet: empty, not an error"
    warehouse.ensure_schema()
    assert warehouse.ledger_summary([A]) == NO_LEDGER
    _append(warehouse, A, "loaded", 7)
    _append(warehouse, A, "skipped", 7)
    _append(warehouse, B, "failed", None)
    _append(warehouse, "obt-" + "9" * 20, "loaded", 9)  # not asked about, but the newest load
    assert warehouse.ledger_summary([A, B, C]) == LedgerSummary(
        {A: frozenset({"loaded", "skipped"}), B: frozenset({"failed"})}, 9
    )
    assert warehouse.ledger_summary([]) == LedgerSummary({}, 9)


def test_bigquery_ledger_summary_reads_once_and_a_missing_table_is_an_empty_ledger():
    client = mock.Mock()
    client.query.return_value.result.return_value = [
        {"build_id": A, "outcome": "loaded", "last_watermark": None},
        {"build_id": None, "outcome": None, "last_watermark": 12},
    ]
    warehouse = BigQueryWarehouse(Settings(env="gcp", project="proj"), client=client)
    assert warehouse.ledger_summary([A, B]) == LedgerSummary({A: frozenset({"loaded"})}, 12)
    [call] = client.query.call_args_list
    assert "`proj.obt_ops.load_ledger`" in call.args[0]
    [param] = call.kwargs["job_config"].query_parameters
    assert (param.name, param.array_type, param.values) == ("build_ids", "STRING", [A, B])
    client.query.return_value.result.side_effect = gexc.NotFound("Not found: Table proj:obt_ops.load_ledger")
    assert warehouse.ledger_summary([A]) == NO_LEDGER


def _pins(name: str) -> dict[str, str]:
    text = (REPO / "functions" / name / "requirements.txt").read_text()
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)$", text, flags=re.M))


def test_the_reconcile_function_ships_the_warehouse_client_load_obt_uses():
    reconcile, load = _pins("reconcile"), _pins("load_obt")
    for package in ("google-cloud-bigquery", "sqlglot"):
        assert reconcile.get(package) == load[package], package


def test_reconcile_may_read_the_ledger_and_publish_and_nothing_more_in_bigquery():
    config = Config()
    identity = 'google_service_account.fn["reconcile"]'
    # (resource type, what it grants on, role) of every grant to the reconcile function's identity.
    on = ("dataset_id", "topic", "bucket", "project")
    grants = {
        (block.type, next(block.body[k] for k in on if k in block.body), block.body["role"])
        for block in config.resources()
        if identity in str(block.body.get("member", ""))
    }
    assert ("google_project_iam_member", "${var.project}", "roles/bigquery.jobUser") in grants
    ledger = ("google_bigquery_dataset_iam_member", "${google_bigquery_dataset.ops.dataset_id}")
    assert (*ledger, "roles/bigquery.dataViewer") in grants
    topic = ("google_pubsub_topic_iam_member", "${google_pubsub_topic.build_complete.id}", "roles/pubsub.publisher")
    assert topic in grants
    bigquery = {g for g in grants if g[0] == "google_bigquery_dataset_iam_member"}
    assert bigquery == {(*ledger, "roles/bigquery.dataViewer")}, "read only, the ops dataset only"
    assert config.locals()["function_env"]["OBT_RECONCILE_GRACE_MINUTES"] == "${tostring(var.reconcile_grace_minutes)}"
    assert config.named("variable")["reconcile_grace_minutes"]["default"] == Settings.reconcile_grace_minutes
