"""Failures mid-export leave no manifest; the retry completes the snapshot and removes the leftovers.

More faults (a crash between the parts and the manifest, racing attempts, a part overwritten afterwards) are in
``tests/faults/test_extract_faults.py``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from obt import clients
from obt.extract.export import extract_table
from obt.extract.request import build_request
from obt.extract.service import _database, run_extract
from obt.extract.storage import GcsPartSink, StorageFailure
from obt.objects import GcsObjects
from obt_contract.layout import classify_raw, gs_uri, snapshot_manifest_name, snapshot_prefix
from tests.extract.conftest import settings_with, unique
from tests.extract.helpers import digest, download_parts, reference_copy, split_records

D = date(2026, 11, 24)
REPO = Path(__file__).resolve().parents[2]


def _names(settings, table: str, run_id: str) -> set[str]:
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    return {b.name for b in clients.storage(settings).list_blobs(bucket, prefix=snapshot_prefix(table, D, run_id))}


def _complete_and_check(settings, pg_conn, table: str, run_id: str) -> dict:
    request = build_request(tables=[table], ingest_date=D.isoformat(), run_id=run_id, allowed=settings.extract_tables)
    (outcome,) = run_extract(settings, request)
    manifest = outcome.manifest
    assert not outcome.reused
    parts = [p["name"] for p in manifest["parts"]]
    assert _names(settings, table, run_id) == {*parts, snapshot_manifest_name(table, D, run_id)}
    header, expected = reference_copy(pg_conn, table)
    got = [
        r
        for text in download_parts(clients.storage(settings).bucket(settings.raw_bucket), manifest)
        for r in split_records(header, text)
    ]
    assert len(got) == manifest["total_rows"] == len(expected)
    assert digest(got) == digest(expected)
    return manifest


@pytest.mark.slow
def test_storage_failure_after_some_parts_leaves_no_manifest_and_retry_replaces_parts(extract_env, pg_conn, bulk_table):
    settings = settings_with(extract_part_bytes=1024 * 1024)
    run_id = unique("run")
    bucket = clients.storage(settings).bucket(settings.raw_bucket)

    class FailingSink(GcsPartSink):
        def write(self, data: bytes) -> None:
            if self.name.endswith("-00004.csv.gz"):
                raise StorageFailure("injected: storage went away during part 4")
            super().write(data)

    with pytest.raises(StorageFailure, match="injected"):
        extract_table(
            lambda: _database(settings),
            GcsObjects(settings),
            settings.raw_bucket,
            table=bulk_table,
            ingest_date=D,
            run_id=run_id,
            part_bytes=settings.extract_part_bytes,
            open_part=lambda name: FailingSink(bucket, name),
        )
    left = sorted(_names(settings, bulk_table, run_id))
    assert [classify_raw(name).kind for name in left] == ["snapshot_part"] * 4
    assert len({classify_raw(name).attempt for name in left}) == 1
    assert [name[-len("00000.csv.gz") :] for name in left] == [f"{i:05d}.csv.gz" for i in range(4)]  # not part 4

    # The retry is a new attempt with bigger parts: it writes names of its own and, once its manifest is
    # committed, deletes the failed attempt's parts.
    manifest = _complete_and_check(settings_with(extract_part_bytes=6 * 1024 * 1024), pg_conn, bulk_table, run_id)
    assert len(manifest["parts"]) < 4


@pytest.mark.slow
def test_killed_extraction_leaves_no_manifest(extract_env, pg_conn, bulk_table):
    settings = settings_with(extract_part_bytes=512 * 1024)
    run_id = unique("run")
    env = {**os.environ, **extract_env, "OBT_EXTRACT_PART_BYTES": str(512 * 1024)}
    argv = [sys.executable, "-m", "obt_tools", "extract", "--table", bulk_table, "--ingest-date", D.isoformat()]
    proc = subprocess.Popen([*argv, "--run-id", run_id], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _names(settings, bulk_table, run_id):
            assert proc.poll() is None, "the export finished before it could be interrupted"
            assert time.monotonic() < deadline, "no part appeared"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _names(settings, bulk_table, run_id)
    assert left and snapshot_manifest_name(bulk_table, D, run_id) not in left

    # Run again to completion in a process of its own, as a retry would.
    done = subprocess.run([*argv, "--run-id", run_id], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "300,000 rows" in done.stdout and "exported" in done.stdout
    again = subprocess.run([*argv, "--run-id", run_id], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert "already complete, reused" in again.stdout
    names = _names(settings, bulk_table, run_id)
    assert snapshot_manifest_name(bulk_table, D, run_id) in names
    header, expected = reference_copy(pg_conn, bulk_table)
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    manifest_uri = gs_uri(settings.raw_bucket, snapshot_manifest_name(bulk_table, D, run_id))
    manifest = GcsObjects(settings).read_json(manifest_uri)
    assert {p["name"] for p in manifest["parts"]} | {snapshot_manifest_name(bulk_table, D, run_id)} == names
    got = [r for text in download_parts(bucket, manifest) for r in split_records(header, text)]
    assert digest(got) == digest(expected)
