"""Settings, read once from the environment.

``OBT_ENV`` says where the code runs: ``local`` (the local cloud of ``obt local up``) or ``gcp``.
``OBT_WAREHOUSE`` chooses the warehouse adapter, ``duckdb`` or ``bigquery``; it defaults to DuckDB locally
and BigQuery on GCP, and is a setting of its own so that either can be paired with either. Storage, Pub/Sub
and Dataproc always go through Google's client libraries; locally they are pointed at the emulators by
``STORAGE_EMULATOR_HOST``, ``PUBSUB_EMULATOR_HOST`` and ``OBT_DATAPROC_ENDPOINT``.

Deployed code reads them with :func:`settings`, once per process (a function instance serves many
events); the CLI and tests call ``Settings.from_env()`` for the environment of the moment.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obt_contract.sources import PURCHASES

BUILD_TOPIC = "obt-build-complete"
WAREHOUSES = ("duckdb", "bigquery")


class ConfigError(ValueError):
    """A setting is missing or malformed."""


def _get(env: Mapping[str, str], name: str, default: str = "") -> str:
    return env.get(name, default).strip()


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _get(env, name)
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc


def _json_dict(env: Mapping[str, str], name: str) -> dict[str, str]:
    raw = _get(env, name)
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{name} must be a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise ConfigError(f"{name} must be a JSON object, got {type(value).__name__}")
    return {str(k): str(v) for k, v in value.items()}


def _csv(env: Mapping[str, str], name: str, default: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in _get(env, name, default).split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    env: str = "local"
    project: str = "obt-local"
    region: str = "us-central1"
    raw_bucket: str = "obt-raw"
    curated_bucket: str = "obt-curated"
    build_topic: str = BUILD_TOPIC
    state_dir: Path = Path(".obt")

    # Dataproc Serverless batches (on_raw_landed, reconcile).
    dataproc_endpoint: str = ""
    # Spark 4 (runtime 3.0): the job parses the review logs with from_xml, which Spark 3.5 lacks.
    dataproc_runtime_version: str = "3.0"
    dataproc_service_account: str = ""
    dataproc_subnetwork: str = ""
    spark_properties: dict[str, str] = field(default_factory=dict)
    job_main_uri: str = ""
    job_py_files: tuple[str, ...] = ()
    dq_max_quarantine_share: float = 0.5
    # The review tagger's model folder, named after its model version (gs://…/tagger/<model_version>/, or file://
    # locally): every build's reviews are scored by it, and it is part of the build id. "" = no tagging.
    tagger_model_uri: str = ""
    # obt reconcile: how far back to look for batches that ended without a completion message.
    reconcile_lookback_hours: int = 72
    # obt reconcile: how long a published build may go without an outcome in the load ledger before its
    # message is published again (the loader's own retries come first).
    reconcile_grace_minutes: int = 30

    # Warehouse: "duckdb" (the file at warehouse_path) or "bigquery".
    warehouse: str = "duckdb"
    warehouse_path: Path = Path(".obt/warehouse.duckdb")
    bq_location: str = "US"
    obt_dataset: str = "movie_analytics"
    obt_table: str = "obt"
    staging_dataset: str = "obt_staging"
    ops_dataset: str = "obt_ops"

    # PostgreSQL source (extract_postgres).
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    pg_password: str = ""
    pg_database: str = "postgres"
    cloudsql_instance: str = ""
    cloudsql_ip_type: str = "public"
    pg_iam_auth: bool = False
    pg_password_secret: str = ""
    extract_tables: tuple[str, ...] = (PURCHASES,)
    extract_part_bytes: int = 64 * 1024 * 1024

    @property
    def is_local(self) -> bool:
        return self.env == "local"

    @property
    def topic_path(self) -> str:
        return f"projects/{self.project}/topics/{self.build_topic}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        kind = _get(env, "OBT_ENV", "local")
        if kind not in ("local", "gcp"):
            raise ConfigError(f"OBT_ENV must be 'local' or 'gcp', got {kind!r}")
        warehouse = _get(env, "OBT_WAREHOUSE") or ("duckdb" if kind == "local" else "bigquery")
        if warehouse not in WAREHOUSES:
            raise ConfigError(f"OBT_WAREHOUSE must be 'duckdb' or 'bigquery', got {warehouse!r}")
        state_dir = Path(_get(env, "OBT_STATE_DIR", ".obt"))
        project = _get(env, "OBT_PROJECT") or _get(env, "GOOGLE_CLOUD_PROJECT") or cls.project
        share = _float(env, "OBT_DQ_MAX_QUARANTINE_SHARE", cls.dq_max_quarantine_share)
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"OBT_DQ_MAX_QUARANTINE_SHARE must be within 0..1, got {share}")
        tagger_model = _get(env, "OBT_TAGGER_MODEL_URI")
        if tagger_model and not tagger_model.startswith(("gs://", "file://")):
            raise ConfigError(f"OBT_TAGGER_MODEL_URI must be a gs:// or file:// URI, got {tagger_model!r}")
        grace = _int(env, "OBT_RECONCILE_GRACE_MINUTES", cls.reconcile_grace_minutes)
        if grace < 0:
            raise ConfigError(f"OBT_RECONCILE_GRACE_MINUTES must be 0 or more, got {grace}")
        return cls(
            env=kind,
            project=project,
            region=_get(env, "OBT_REGION", cls.region),
            raw_bucket=_get(env, "OBT_RAW_BUCKET", cls.raw_bucket),
            curated_bucket=_get(env, "OBT_CURATED_BUCKET", cls.curated_bucket),
            build_topic=_get(env, "OBT_BUILD_TOPIC", BUILD_TOPIC),
            state_dir=state_dir,
            dataproc_endpoint=_get(env, "OBT_DATAPROC_ENDPOINT"),
            dataproc_runtime_version=_get(env, "OBT_DATAPROC_RUNTIME_VERSION", cls.dataproc_runtime_version),
            dataproc_service_account=_get(env, "OBT_DATAPROC_SERVICE_ACCOUNT"),
            dataproc_subnetwork=_get(env, "OBT_DATAPROC_SUBNETWORK"),
            spark_properties=_json_dict(env, "OBT_SPARK_PROPERTIES"),
            job_main_uri=_get(env, "OBT_JOB_MAIN_URI"),
            job_py_files=_csv(env, "OBT_JOB_PY_FILES", ""),
            dq_max_quarantine_share=share,
            tagger_model_uri=tagger_model,
            reconcile_lookback_hours=_int(env, "OBT_RECONCILE_LOOKBACK_HOURS", cls.reconcile_lookback_hours),
            reconcile_grace_minutes=grace,
            warehouse=warehouse,
            warehouse_path=Path(_get(env, "OBT_WAREHOUSE_PATH") or state_dir / "warehouse.duckdb"),
            bq_location=_get(env, "OBT_BQ_LOCATION", cls.bq_location),
            obt_dataset=_get(env, "OBT_DATASET", cls.obt_dataset),
            obt_table=_get(env, "OBT_TABLE", cls.obt_table),
            staging_dataset=_get(env, "OBT_STAGING_DATASET", cls.staging_dataset),
            ops_dataset=_get(env, "OBT_OPS_DATASET", cls.ops_dataset),
            pg_host=_get(env, "OBT_PG_HOST", cls.pg_host),
            pg_port=_int(env, "OBT_PG_PORT", cls.pg_port),
            pg_user=_get(env, "OBT_PG_USER", cls.pg_user),
            pg_password=_get(env, "OBT_PG_PASSWORD"),
            pg_database=_get(env, "OBT_PG_DATABASE", cls.pg_database),
            cloudsql_instance=_get(env, "OBT_CLOUDSQL_INSTANCE"),
            cloudsql_ip_type=_get(env, "OBT_CLOUDSQL_IP_TYPE", cls.cloudsql_ip_type),
            pg_iam_auth=_get(env, "OBT_PG_IAM_AUTH").lower() in ("1", "true", "yes"),
            pg_password_secret=_get(env, "OBT_PG_PASSWORD_SECRET"),
            extract_tables=_csv(env, "OBT_EXTRACT_TABLES", PURCHASES),
            extract_part_bytes=_int(env, "OBT_EXTRACT_PART_BYTES", cls.extract_part_bytes),
        )


@functools.cache
def settings() -> Settings:
    """The process's settings, read from the environment on first use (what the functions call)."""
    return Settings.from_env()


def reset() -> None:
    """Read the environment again on the next :func:`settings` (tests that change it)."""
    settings.cache_clear()
