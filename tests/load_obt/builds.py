"""Fake curated builds for loader tests: Parquet parts + a contract-shaped manifest."""

from __future__ import annotations

import base64
import hashlib
import shutil
from dataclasses import replace
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


def manifest(build: str, files: list[str], rows: int, watermark: int, status: str = "succeeded") -> dict[str, Any]:
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
        "obt": {"uri_prefix": f"gs://{CURATED}/{build_prefix(build)}", "files": files, "rows": rows},
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
        self, build: str, rows: list[dict], watermark: int, status: str = "succeeded", schema: pa.Schema = SCHEMA
    ) -> dict[str, Any]:
        """``build`` in the bucket, its Parquet with ``schema``'s columns (older builds: ``SCHEMA_BEFORE_ADDED``)."""
        folder = self.root / CURATED / build_prefix(build)
        files = [p.name for p in write_parquet(rows, folder, schema=schema)] if status == "succeeded" else []
        doc = manifest(build, files, len(rows), watermark, status)
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
    import json

    from obt import clients

    bucket = clients.storage(settings).bucket(settings.curated_bucket)
    files = write_parquet(rows, tmp / build) if status == "succeeded" else []
    for path in files:
        bucket.blob(build_prefix(build) + path.name).upload_from_filename(str(path))
    doc = manifest(build, [p.name for p in files], len(rows), watermark, status)
    bucket.blob(build_manifest_name(build)).upload_from_string(json.dumps(doc), content_type="application/json")
    return doc
