"""The extract under real faults, against the session's PostgreSQL and fake-gcs-server (which enforces generation
preconditions on single-request uploads such as the manifest's).

- Two attempts for the same (table, ingest date, run id) whose snapshots straddle a commit: the first manifest wins,
  its parts stay exactly what it announced, the loser adopts it and removes its own parts, and the planner builds
  the day from it.
- A crash between the parts and the manifest: no manifest, so nothing builds from the partial export; the retry
  commits a consistent snapshot, and the crashed attempt's parts are never an input and are then deleted.
- A part overwritten after its manifest announced it: the extract refuses to reuse the snapshot and the planner
  refuses to build from it (and does not fall back to an older one); both log an ERROR naming the part.

Each test exports ``user_purchase`` from a database of its own (the planner only builds from that table), about
2 MB of CSV in two parts, so the whole file takes seconds.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError
from obt.extract.export import ExtractOutcome, extract_table
from obt.extract.integrity import check_snapshot
from obt.extract.postgres import connect
from obt.extract.request import build_request
from obt.extract.service import run_extract
from obt.extract.storage import GcsPartSink
from obt.objects import GcsObjects, ListedObject, Objects
from obt.trigger.planner import Plan, decide, plan_build
from obt_contract.layout import classify_raw, gs_uri, snapshot_manifest_name, snapshot_prefix
from obt_contract.sources import PURCHASES
from tests.extract.conftest import unique

D = date(2026, 11, 24)
ROWS = 27_095  # the day
LATE_ROWS = 50  # committed between the two attempts' snapshots
PART_BYTES = 256 * 1024
WAIT = 60


class SimulatedCrash(BaseException):
    """The process dies here: not an ``Exception``, so no handler of the extract turns it into an answer."""


@pytest.fixture
def purchases_db(postgres) -> Iterator[str]:
    """A database of its own holding ``user_purchase`` (ROWS rows), dropped afterwards."""
    name = unique("faults")
    admin = postgres.connect()
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    conn = postgres.connect(database=name)
    conn.autocommit = True
    try:
        conn.cursor().execute(
            "CREATE TABLE user_purchase AS SELECT i AS id, md5(i::text) AS detail, md5((i * 7)::text) AS note "
            f"FROM generate_series(1, {ROWS}) AS i"
        )
    finally:
        conn.close()
    try:
        yield name
    finally:
        admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def settings(postgres, gcs_emulator, purchases_db, monkeypatch) -> Settings:
    for key, value in {**postgres.env(), **gcs_emulator.env(), "OBT_PG_DATABASE": purchases_db}.items():
        monkeypatch.setenv(key, value)
    return Settings.from_env()


@contextmanager
def own_connection(settings: Settings) -> Iterator[Any]:
    """A connection per attempt, as two function instances would have (not the process's shared one)."""
    conn = connect(settings)
    try:
        yield conn
    finally:
        conn.close()


def gcs_part(settings: Settings) -> Callable[[str], GcsPartSink]:
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    return lambda name: GcsPartSink(bucket, name)


def export(
    settings: Settings,
    run_id: str,
    *,
    ingest_date: date = D,
    objects: Objects | None = None,
    open_part: Callable[[str], GcsPartSink] | None = None,
) -> ExtractOutcome:
    return extract_table(
        lambda: own_connection(settings),
        objects or GcsObjects(settings),
        settings.raw_bucket,
        table=PURCHASES,
        ingest_date=ingest_date,
        run_id=run_id,
        part_bytes=PART_BYTES,
        open_part=open_part or gcs_part(settings),
    )


def folder_listing(settings: Settings, run_id: str, ingest_date: date = D) -> list[ListedObject]:
    return GcsObjects(settings).list_objects(settings.raw_bucket, snapshot_prefix(PURCHASES, ingest_date, run_id))


def manifest_uri(settings: Settings, run_id: str) -> str:
    return gs_uri(settings.raw_bucket, snapshot_manifest_name(PURCHASES, D, run_id))


def assert_consistent(settings: Settings, manifest: dict) -> None:
    """Every part in the bucket is the one announced (generation, size, crc32c) and holds its rows."""
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    for part in manifest["parts"]:
        blob = bucket.get_blob(part["name"])
        assert (blob.generation, blob.size, blob.crc32c) == (part["generation"], part["bytes"], part["crc32c"])
        text = gzip.decompress(blob.download_as_bytes(if_generation_match=part["generation"]))
        assert text.count(b"\n") - 1 == part["rows"]  # minus the header; the values hold no newlines
    assert check_snapshot(GcsObjects(settings), manifest_uri(settings, manifest["run_id"])) == []


def plan_day(settings: Settings, listing: list[ListedObject]) -> Plan:
    """The trigger's plan over these purchase objects plus a complete vendor date (the vendor files are never read)."""
    vendor = [
        ListedObject(f"movie_review/ingest_date={D}/movie_review.csv", 1, 10),
        ListedObject(f"log_reviews/ingest_date={D}/log_reviews.csv", 2, 10),
    ]
    objects = GcsObjects(settings)
    return plan_build(
        [*listing, *vendor],
        lambda obj: objects.read_json(gs_uri(settings.raw_bucket, obj.name), generation=obj.generation),
    )


def assert_plan_builds_from(plan: Plan, settings: Settings, manifest: dict) -> None:
    assert plan.build is not None, plan.missing
    assert plan.build.purchases_manifest.name == snapshot_manifest_name(PURCHASES, D, manifest["run_id"])
    assert [(o.name, o.generation) for o in plan.build.purchases] == [
        (p["name"], p["generation"]) for p in manifest["parts"]
    ]
    args = plan.build.job_args(settings.raw_bucket, settings.curated_bucket, "t", 0.5)
    assert args.count("--purchases") == len(manifest["parts"])


def gate(
    on_first_part: threading.Event, wait_for: threading.Event, opened: list[str], settings: Settings
) -> Callable[[str], GcsPartSink]:
    """Part sinks that signal when the attempt's COPY is streaming (its snapshot is taken), then hold it."""
    open_part = gcs_part(settings)

    def gated(name: str) -> GcsPartSink:
        if not opened:
            on_first_part.set()
            assert wait_for.wait(WAIT), "the other attempt never got there"
        opened.append(name)
        return open_part(name)

    return gated


def test_racing_extracts_keep_the_first_snapshot_intact_and_the_day_builds_from_it(
    settings, purchases_db, postgres, caplog
):
    run_id = unique("race")
    a_streaming, b_streaming, a_done = threading.Event(), threading.Event(), threading.Event()
    a_parts: list[str] = []
    b_parts: list[str] = []
    with caplog.at_level(logging.INFO), ThreadPoolExecutor(2) as pool:
        a = pool.submit(export, settings, run_id, open_part=gate(a_streaming, b_streaming, a_parts, settings))
        assert a_streaming.wait(WAIT)
        conn = postgres.connect(database=purchases_db)
        conn.autocommit = True
        conn.cursor().execute(
            "INSERT INTO user_purchase SELECT i, md5(i::text), md5((i * 7)::text) "
            f"FROM generate_series({ROWS + 1}, {ROWS + LATE_ROWS}) AS i"
        )
        conn.close()
        b = pool.submit(export, settings, run_id, open_part=gate(b_streaming, a_done, b_parts, settings))
        first = a.result(WAIT)
        a_done.set()
        second = b.result(WAIT)

    assert (first.reused, first.manifest["total_rows"]) == (False, ROWS)
    assert len(first.manifest["parts"]) == 2
    # B saw the later commit but lost: it answers A's manifest, and its own parts are gone.
    b_rows = [r.fields["rows"] for r in caplog.records if getattr(r, "fields", {}).get("part") in b_parts]
    assert sum(b_rows) == ROWS + LATE_ROWS
    assert (second.reused, second.manifest) == (True, first.manifest)
    assert len(b_parts) == 2 and not set(b_parts) & {p["name"] for p in first.manifest["parts"]}
    listing = folder_listing(settings, run_id)
    manifest_name = snapshot_manifest_name(PURCHASES, D, run_id)
    assert sorted(o.name for o in listing) == sorted([*a_parts, manifest_name])
    assert_consistent(settings, first.manifest)

    # The Scheduler's retry for that day gets the same, still consistent snapshot; the day builds from it.
    retry = export(settings, run_id)
    assert (retry.reused, retry.manifest) == (True, first.manifest)
    assert_plan_builds_from(plan_day(settings, folder_listing(settings, run_id)), settings, first.manifest)


class CrashingSink(GcsPartSink):
    """Dies right after its part is committed."""

    def commit(self, size: int, crc32c: str) -> int:
        super().commit(size, crc32c)
        raise SimulatedCrash(f"killed after committing {self.name}")


class CrashBeforeManifest(GcsObjects):
    """Dies with every part committed, just before the manifest is written."""

    def create_json(self, uri: str, body: Any) -> bool:
        raise SimulatedCrash(f"killed before writing {uri}")


@pytest.mark.parametrize("crash", ["after_first_part", "before_manifest"])
def test_crash_before_the_manifest_then_the_retry_commits_a_consistent_snapshot(settings, crash):
    run_id = unique("crash")
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    with pytest.raises(SimulatedCrash):
        if crash == "after_first_part":
            export(settings, run_id, open_part=lambda name: CrashingSink(bucket, name))
        else:
            export(settings, run_id, objects=CrashBeforeManifest(settings))
    crashed = folder_listing(settings, run_id)
    assert crashed and all(classify_raw(o.name).kind == "snapshot_part" for o in crashed)
    assert len(crashed) == (1 if crash == "after_first_part" else 2)
    partial = plan_day(settings, crashed)
    assert partial.build is None and any("complete user_purchase snapshot" in m for m in partial.missing)

    retry = export(settings, run_id)
    assert not retry.reused and retry.manifest["total_rows"] == ROWS
    assert_consistent(settings, retry.manifest)
    named = {p["name"] for p in retry.manifest["parts"]}
    assert not named & {o.name for o in crashed}  # a new attempt, new names
    # Had the planner seen the crashed parts next to the manifest, it would still build from the manifest's parts.
    assert_plan_builds_from(plan_day(settings, [*crashed, *folder_listing(settings, run_id)]), settings, retry.manifest)
    # And they are gone: the retry deleted what no manifest names.
    assert {o.name for o in folder_listing(settings, run_id)} == {*named, snapshot_manifest_name(PURCHASES, D, run_id)}


def test_a_part_overwritten_after_its_manifest_is_reported_corrupt_by_the_extract_and_the_planner(settings, caplog):
    run_id = unique("overwritten")
    export(settings, run_id, ingest_date=D - timedelta(days=1))  # a complete, consistent earlier snapshot
    snapshot = export(settings, run_id)
    part = snapshot.manifest["parts"][0]
    blob = clients.storage(settings).bucket(settings.raw_bucket).blob(part["name"])
    # The same bytes again: size and crc32c still match, only the generation tells.
    blob.upload_from_string(blob.download_as_bytes(), content_type="application/gzip")
    assert blob.generation != part["generation"]

    problems = check_snapshot(GcsObjects(settings), manifest_uri(settings, run_id))
    assert problems == [f"{part['name']} has generation {blob.generation}, manifest says {part['generation']}"]

    before = folder_listing(settings, run_id)
    request = build_request(tables=[PURCHASES], ingest_date=D.isoformat(), run_id=run_id, allowed=(PURCHASES,))
    with caplog.at_level(logging.ERROR), pytest.raises(PermanentError, match="is corrupt, not reusing it"):
        run_extract(settings, request)
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.fields["part"] == part["name"] and error.fields["problem"].startswith("has generation ")
    assert folder_listing(settings, run_id) == before  # nothing deleted, nothing written in its place

    caplog.clear()
    listing = [*folder_listing(settings, run_id, D - timedelta(days=1)), *folder_listing(settings, run_id)]
    with caplog.at_level(logging.ERROR):
        plan = plan_day(settings, listing)
    assert plan.build is None  # not the older, complete snapshot instead
    corrupt = next(o for o in listing if o.name == snapshot_manifest_name(PURCHASES, D, run_id))
    decision = decide(plan, corrupt.name, corrupt.generation)
    assert decision.action == "waiting" and part["name"] in decision.reason and "generation" in decision.reason
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.fields["manifest"] == corrupt.name and part["name"] in error.fields["problem"]
    older = snapshot_manifest_name(PURCHASES, D - timedelta(days=1), run_id)
    decision = decide(plan, older, next(o.generation for o in listing if o.name == older))
    assert decision.action == "ignored" and decision.reason == f"superseded by the newer snapshot {corrupt.name}"
