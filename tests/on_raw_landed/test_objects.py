"""The ``Objects`` adapter against the storage emulator (fake-gcs-server): the raw listing and generation reads
the trigger relies on, and the one rule for a missing object."""

from __future__ import annotations

import json

import pytest

from obt import clients
from obt.config import Settings
from obt.errors import TransientError
from obt.objects import GcsObjects, ListedObject, NotJsonObject
from obt.services import Services
from obt.trigger.service import current_plan
from obt_contract.layout import gs_uri
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


def test_listing_holds_name_generation_and_size_and_the_trigger_lists_input_prefixes_only(settings):
    movie = _put(settings, MOVIE, b"12345")
    empty = _put(settings, "log_reviews/ingest_date=2026-11-23/log_reviews.csv", b"")
    _put(settings, "elsewhere/file.csv", b"x")
    objects = GcsObjects(settings)
    assert objects.list_objects(settings.raw_bucket, "movie_review/") == [ListedObject(MOVIE, movie.generation, 5)]
    assert objects.list_objects(settings.raw_bucket, "log_reviews/") == [ListedObject(empty.name, empty.generation, 0)]
    plan = current_plan(settings, Services.from_settings(settings))
    assert plan.generations == {MOVIE: movie.generation, empty.name: empty.generation}


def test_json_is_read_at_the_given_generation(settings):
    first = _put(settings, MANIFEST, json.dumps({"run": 1}).encode())
    second = _put(settings, MANIFEST, json.dumps({"run": 2}).encode())
    broken = _put(settings, "user_purchase/ingest_date=2026-11-23/run_id=r9/_MANIFEST.json", b"{broken")
    objects = GcsObjects(settings)
    uri = gs_uri(settings.raw_bucket, MANIFEST)
    assert objects.read_json(uri, generation=second.generation) == {"run": 2}
    assert objects.read_json(uri) == {"run": 2}
    assert objects.read_json(uri, generation=first.generation) is None  # overwritten: no longer readable
    with pytest.raises(NotJsonObject, match="not JSON"):
        objects.read_json(gs_uri(settings.raw_bucket, broken.name), generation=broken.generation)


def test_a_missing_object_is_none_or_false_never_an_error(settings, tmp_path):
    objects = GcsObjects(settings)
    uri = gs_uri(settings.raw_bucket, "nothing/here.json")
    assert objects.read_json(uri) is None
    assert objects.exists(uri) is False
    assert objects.download(uri, tmp_path / "here.json") is False and not any(tmp_path.iterdir())
    assert objects.delete(uri) is False
    assert objects.create_json(uri, {"n": 1}) is True
    assert objects.create_json(uri, {"n": 2}) is False  # write-once: the first writer keeps it
    assert objects.exists(uri) and objects.read_json(uri) == {"n": 1}
    assert objects.download(uri, tmp_path / "here.json") is True
    assert json.loads((tmp_path / "here.json").read_text()) == {"n": 1}
    assert objects.delete(uri) is True and objects.read_json(uri) is None


def test_missing_bucket_is_transient_so_the_event_is_kept(gcs_emulator):
    gone = Settings(raw_bucket="obt-no-such-bucket")
    with pytest.raises(TransientError, match="listing gs://obt-no-such-bucket"):
        current_plan(gone, Services.from_settings(gone))
