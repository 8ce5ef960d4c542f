"""The extract's part uploads against the storage emulator: checksums verified, an aborted part never appears."""

from __future__ import annotations

import os

import google_crc32c
import pytest

from obt import clients
from obt.config import Settings
from obt.extract.parts import crc32c_base64
from obt.extract.storage import GcsPartSink, StorageFailure
from tests.extract.conftest import unique


@pytest.fixture
def bucket(gcs_emulator):
    return clients.storage(Settings.from_env()).bucket(gcs_emulator.raw_bucket)


def _crc(data: bytes) -> str:
    return crc32c_base64(int.from_bytes(google_crc32c.Checksum(data).digest(), "big"))


def test_part_commit_checks_the_stored_checksum(bucket):
    data = os.urandom(300_000)
    good = GcsPartSink(bucket, unique("t/part"), chunk_bytes=256 * 1024)  # two resumable chunks
    good.write(data)
    generation = good.commit(len(data), _crc(data))
    blob = bucket.get_blob(good.name)
    assert (blob.generation, blob.size, blob.crc32c, blob.content_type) == (
        generation,
        len(data),
        _crc(data),
        "application/gzip",
    )
    bad = GcsPartSink(bucket, unique("t/part"))
    bad.write(data)
    with pytest.raises(StorageFailure, match="crc32c"):
        bad.commit(len(data), "AAAAAA==")


def test_aborted_part_never_appears(bucket):
    sink = GcsPartSink(bucket, unique("t/part"), chunk_bytes=256 * 1024)
    sink.write(os.urandom(600_000))  # some chunks already sent
    sink.abort()
    assert bucket.get_blob(sink.name) is None


def test_a_part_is_created_only_if_its_name_is_new():
    """``ifGenerationMatch=0`` on every part: no upload replaces an object (Cloud Storage enforces it on
    resumable uploads; fake-gcs-server does not, so this checks what the sink asks for)."""
    requested = {}

    class Blob:
        def open(self, mode: str, **kwargs):
            requested.update(kwargs)
            return None

    class Bucket:
        name = "raw"

        def blob(self, name: str, chunk_size: int):
            return Blob()

    GcsPartSink(Bucket(), "t/part")
    assert requested["if_generation_match"] == 0
