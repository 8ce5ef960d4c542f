"""Listing and manifest reads against the storage emulator (fake-gcs-server) through google-cloud-storage."""

from __future__ import annotations

import json

import pytest

from obt import clients
from obt.config import Settings
from obt.errors import TransientError
from obt.trigger.planner import ListedObject
from obt.trigger.raw_store import list_raw, manifest_reader
from tests.on_raw_landed.builders import MANIFEST, MOVIE
from tests.on_raw_landed.stack import scratch_bucket

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(gcs_emulator) -> Settings:
    return Settings(raw_bucket=scratch_bucket(gcs_emulator.project, "raw"))


def _put(settings: Settings, name: str, payload: bytes):
    blob = clients.storage(settings).bucket(settings.raw_bucket).blob(name)
    blob.upload_from_string(payload)
    blob.reload()
    return blob


def test_listing_holds_name_generation_and_size_of_input_prefixes_only(settings):
    movie = _put(settings, MOVIE, b"12345")
    empty = _put(settings, "log_reviews/ingest_date=2026-11-23/log_reviews.csv", b"")
    _put(settings, "elsewhere/file.csv", b"x")
    listing = sorted(list_raw(settings))
    assert listing == sorted([ListedObject(MOVIE, movie.generation, 5), ListedObject(empty.name, empty.generation, 0)])


def test_manifest_is_read_at_the_listed_generation(settings):
    first = _put(settings, MANIFEST, json.dumps({"run": 1}).encode())
    second = _put(settings, MANIFEST, json.dumps({"run": 2}).encode())
    broken = _put(settings, "user_purchase/ingest_date=2026-11-23/run_id=r9/_MANIFEST.json", b"{broken")
    read = manifest_reader(settings)
    assert read(ListedObject(MANIFEST, second.generation, second.size)) == {"run": 2}
    assert read(ListedObject(MANIFEST, first.generation, first.size)) is None  # overwritten: no longer readable
    with pytest.raises(ValueError, match="not JSON"):
        read(ListedObject(broken.name, broken.generation, broken.size))


def test_missing_bucket_is_transient_so_the_event_is_kept(gcs_emulator):
    with pytest.raises(TransientError, match="listing gs://obt-no-such-bucket"):
        list_raw(Settings(raw_bucket="obt-no-such-bucket"))
