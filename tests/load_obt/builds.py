"""Fake curated builds for loader tests: Parquet parts + a contract-shaped manifest."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from obt.config import Settings
from obt.load.messages import parse_message
from obt.load.service import LoadOutcome, load_build
from obt.services import Services
from obt.warehouse.base import Warehouse
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_contract.layout import build_manifest_name, build_prefix
from obt_contract.message import build_message
from tests.warehouse.obt_rows import SCHEMA, key, write_parquet

CURATED = "obt-curated"


def build_id(label: str) -> str:
    return "obt-" + hashlib.sha256(label.encode()).hexdigest()[:20]


def _canonical(value: Any) -> Any:
    """One value as text that equal values share: a NUMERIC at its 9 decimals, a date in ISO form."""
    if isinstance(value, Decimal):
        return str(value.quantize(Decimal("1e-9")))
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value


def partition_digests(rows: list[dict[str, Any]], schema: pa.Schema = SCHEMA) -> dict[str, dict[str, Any]]:
    """The manifest's ``obt.partitions`` for ``rows`` written with ``schema``: per ``log_date``, the row count and an
    order-independent digest of the rows (the sum of a 64-bit hash of each row's values, modulo 2**64; the Spark
    job's hash differs, and only equality matters to the loader)."""
    counts: dict[str, int] = {}
    sums: dict[str, int] = {}
    for row in rows:
        day = row["log_date"].isoformat()
        text = json.dumps([_canonical(row.get(name)) for name in schema.names])
        value = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        counts[day] = counts.get(day, 0) + 1
        sums[day] = (sums.get(day, 0) + value) % 2**64
    return {day: {"rows": counts[day], "digest": f"{sums[day]:016x}"} for day in sorted(counts)}


def manifest(
    build: str,
    files: list[str],
    rows: int,
    watermark: int,
    status: str = "succeeded",
    partitions: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A build manifest; ``partitions`` (``partition_digests``) is left out when ``None``, as manifests written
    before it lack it."""
    obt: dict[str, Any] = {"uri_prefix": f"gs://{CURATED}/{build_prefix(build)}", "files": files, "rows": rows}
    if partitions is not None:
        obt["partitions"] = partitions
    return {
        "build_id": build,
        "status": status,
        "reason": None if status == "succeeded" else "too many quarantined rows",
        "input_watermark": watermark,
        "inputs": {
            "purchases_manifest": "gs://obt-raw/m.json",
            "purchases": [],
            "movie_reviews": [],
            "log_reviews": [],
        },
        "created_at": "2026-11-23T00:00:00+00:00",
        "obt": obt,
        "sources": {
            "user_purchase": {"read": 10, "kept": 7, "quarantined": {"missing_customer": 2, "duplicate": 1}},
            "movie_review": {"read": rows, "kept": rows, "quarantined": {}},
        },
        "metrics": {},
    }


def manifest_uri(build: str) -> str:
    return f"gs://{CURATED}/{build_manifest_name(build)}"


def message(build: str, status: str = "succeeded") -> bytes:
    return build_message(build, manifest_uri(build), status)


def pubsub_event_data(data: bytes, message_id: str = "1") -> dict[str, Any]:
    return {
        "message": {"data": base64.b64encode(data).decode(), "messageId": message_id, "attributes": {}},
        "subscription": "projects/obt-local/subscriptions/eventarc-load-obt",
    }


def local_services(settings: Settings, objects: Any, warehouse: Warehouse) -> Services:
    """The services with this test's objects and warehouse (the publisher and batches are not used)."""
    return replace(Services.from_settings(settings), objects=objects, warehouse=lambda: warehouse)


class LocalBuilds:
    """A curated bucket in a folder: ``objects`` for the loader and ``fetch`` for the DuckDB warehouse."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.docs: dict[str, dict[str, Any]] = {}

    def add(
        self,
        build: str,
        rows: list[dict],
        watermark: int,
        status: str = "succeeded",
        schema: pa.Schema = SCHEMA,
        partitions: bool = True,
    ) -> dict[str, Any]:
        """``build`` in the bucket, its Parquet with ``schema``'s columns (older builds: ``SCHEMA_BEFORE_ADDED``),
        its manifest with ``obt.partitions`` unless ``partitions`` is false (a manifest written before them)."""
        folder = self.root / CURATED / build_prefix(build)
        succeeded = status == "succeeded"
        files = [p.name for p in write_parquet(rows, folder, schema=schema)] if succeeded else []
        digests = partition_digests(rows, schema) if succeeded and partitions else None
        doc = manifest(build, files, len(rows), watermark, status, digests)
        self.docs[manifest_uri(build)] = doc
        return doc

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        return self.docs.get(uri)

    def fetch(self, uri: str, path: Path) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.root / uri.removeprefix("gs://"), path)
        return True


LocalEnv = tuple[Settings, "LocalBuilds", DuckDbWarehouse]


def local_env(root: Path) -> LocalEnv:
    """The loader in-process: settings, a curated bucket in a folder and a DuckDB warehouse, all under ``root``."""
    settings = Settings(
        state_dir=root / "state", warehouse_path=root / "state" / "warehouse.duckdb", curated_bucket=CURATED
    )
    builds = LocalBuilds(root / "gcs")
    return settings, builds, DuckDbWarehouse(settings, fetch=builds.fetch)


def deliver(env: LocalEnv, build: str, status: str = "succeeded", message_id: str = "m") -> LoadOutcome:
    """``build``'s completion message, handled by the load use case as ``load_obt`` handles it."""
    settings, builds, warehouse = env
    msg = parse_message(message(build, status), settings.curated_bucket)
    return load_build(msg, settings, local_services(settings, builds, warehouse), message_id=message_id)


def obt_rows(warehouse: Warehouse) -> dict[tuple, dict[str, Any]]:
    """The OBT by key."""
    return {key(r): r for r in warehouse.query("SELECT * FROM movie_analytics.obt")}


def ledger(warehouse: Warehouse) -> list[dict[str, Any]]:
    """The ledger in the order it was written."""
    return warehouse.query("SELECT * FROM obt_ops.load_ledger ORDER BY started_at, finished_at")


def upload_build(
    settings, tmp: Path, build: str, rows: list[dict], watermark: int, status: str = "succeeded"
) -> dict[str, Any]:
    """Write a build to the curated bucket of the storage emulator: Parquet parts, then the manifest last."""
    from obt import clients

    bucket = clients.storage(settings).bucket(settings.curated_bucket)
    files = write_parquet(rows, tmp / build) if status == "succeeded" else []
    for path in files:
        bucket.blob(build_prefix(build) + path.name).upload_from_filename(str(path))
    digests = partition_digests(rows) if status == "succeeded" else None
    doc = manifest(build, [p.name for p in files], len(rows), watermark, status, digests)
    bucket.blob(build_manifest_name(build)).upload_from_string(json.dumps(doc), content_type="application/json")
    return doc
