"""Pinned inputs, pure: the URI format both sides use, the guard's two looks, the manifest record, the JSON API call."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import google_crc32c
import pytest
from obt_job import google_api, inputs
from obt_job.inputs import InputGone, InputGuard, ObjectState
from obt_job.paths import PathMap

from obt_contract import layout

REVIEWS = "gs://raw/movie_review/ingest_date=2026-11-23/movie_review.csv"


def test_a_pinned_uri_round_trips_and_anything_else_pins_nothing():
    uri = layout.pinned_uri("raw", "movie_review/ingest_date=2026-11-23/movie_review.csv", 17)
    assert uri == f"{REVIEWS}#17"
    assert layout.split_pinned_uri(uri) == ("raw", "movie_review/ingest_date=2026-11-23/movie_review.csv", 17)
    assert layout.unpin(uri) == (REVIEWS, 17)
    # The generation is the digits after the last '#': a name holding '#' still parses.
    assert layout.split_pinned_uri("gs://b/a#b.csv#5") == ("b", "a#b.csv", 5)
    for unpinned in (REVIEWS, "gs://raw/x#", "gs://raw/x#0", "gs://raw/x#12a", "gs://raw/x#١٢", "file:///x.csv"):
        assert layout.unpin(unpinned) == (unpinned, None)
        with pytest.raises(layout.LayoutError):
            layout.split_pinned_uri(unpinned)
    with pytest.raises(layout.LayoutError):
        layout.pinned_uri("raw", "x", 0)
    assert layout.input_gone(uri) == f"input {REVIEWS} generation 17 is gone (overwritten or deleted)"


def test_each_generation_has_a_mirror_file_of_its_own_with_the_objects_file_name():
    assert layout.mirror_name(f"{REVIEWS}#17") == (
        "raw/movie_review/ingest_date=2026-11-23/movie_review.csv.generations/17/movie_review.csv"
    )
    assert layout.mirror_name("gs://raw/log_reviews/d/log_reviews.csv.gz#9").endswith("/9/log_reviews.csv.gz")
    assert layout.mirror_name("gs://curated/obt/build_id=b/") == "curated/obt/build_id=b/"


def test_spark_reads_the_live_object_on_dataproc_and_the_generations_file_in_mirror_mode(tmp_path):
    assert PathMap().spark_uri(f"{REVIEWS}#17") == REVIEWS
    mirrored = PathMap(str(tmp_path)).spark_uri(f"{REVIEWS}#17")
    assert mirrored == f"file://{tmp_path}/{layout.mirror_name(f'{REVIEWS}#17')}"
    assert PathMap().local_path("file:///data/x.csv").as_posix() == "/data/x.csv"


class FakeStorage(dict):
    """Object states by input URI, which a test changes between the guard's two looks; records every look."""

    def __init__(self, states: dict[str, ObjectState | None]) -> None:
        super().__init__(states)
        self.reads: list[str] = []

    def __call__(self, uri: str) -> ObjectState | None:
        self.reads.append(uri)
        return self[uri]


def _state(generation: int, crc: str = "AAAAAA==") -> ObjectState:
    return ObjectState(generation, 10, crc)


def test_inputs_still_at_their_generation_pass_and_are_recorded_as_read():
    storage = FakeStorage({"gs://raw/a#1": _state(1), "gs://raw/b#1": _state(1, "BBBBBB==")})
    guard = InputGuard(["gs://raw/a#1", "gs://raw/b#1"], storage)

    guard.pin()

    assert guard.changes() == []
    assert storage.reads == ["gs://raw/a#1", "gs://raw/b#1"] * 2  # before the first read and after the last
    assert guard.record("gs://raw/b#1") == {"uri": "gs://raw/b", "generation": 1, "bytes": 10, "crc32c": "BBBBBB=="}


@pytest.mark.parametrize("live", [_state(2), None], ids=["overwritten", "deleted"])
def test_an_input_moved_before_the_first_read_stops_the_build_before_it_reads(live):
    storage = FakeStorage({"gs://raw/a#1": live})

    with pytest.raises(InputGone, match=r"^input gs://raw/a generation 1 is gone \(overwritten or deleted\)$"):
        InputGuard(["gs://raw/a#1"], storage).pin()


@pytest.mark.parametrize(
    ("now", "change"),
    [
        (_state(7), "generation 1 → 7"),
        (None, "generation 1 → deleted"),
        (_state(1, "CCCCCC=="), "generation 1, crc32c AAAAAA== → CCCCCC=="),
    ],
    ids=["overwritten", "deleted", "rewritten-in-place"],
)
def test_an_input_that_moved_while_the_build_read_it_is_a_problem_naming_both_versions(now, change):
    storage = FakeStorage({"gs://raw/a#1": _state(1), "gs://raw/b#1": _state(1)})
    guard = InputGuard(["gs://raw/a#1", "gs://raw/b#1"], storage)
    guard.pin()
    storage["gs://raw/a#1"] = now

    assert guard.changes() == [f"input gs://raw/a changed while the build read it ({change})"]


def test_a_local_test_input_pins_nothing_but_is_still_compared(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_bytes(b"cid,review_str,id_review\n")
    uri, reader = path.as_uri(), inputs.state_reader(PathMap())
    guard = InputGuard([uri], reader)
    guard.pin()
    crc = base64.b64encode(google_crc32c.Checksum(path.read_bytes()).digest()).decode()

    assert guard.record(uri) == {"uri": uri, "generation": None, "bytes": 25, "crc32c": crc}
    path.write_bytes(b"other")
    assert guard.changes() == [
        f"input {uri} changed while the build read it (a local file, crc32c {crc} → "
        f"{base64.b64encode(google_crc32c.Checksum(b'other').digest()).decode()})"
    ]


def test_a_mirrored_input_is_the_generation_its_uri_pins(tmp_path):
    uri = f"{REVIEWS}#17"
    paths = PathMap(str(tmp_path))
    paths.local_path(uri).parent.mkdir(parents=True)
    paths.local_path(uri).write_bytes(b"abc")

    assert inputs.state_reader(paths)(uri) == ObjectState(17, 3, "Nks/tw==")  # crc32c("abc"), as GCS shows it
    assert inputs.state_reader(paths)(f"{REVIEWS}#18") is None


class _Metadata(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.server.paths.append(self.path)
        found = self.server.objects.get(self.path.split("?")[0])
        body = json.dumps(found or {"error": {"code": 404}}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def metadata_stub(objects: dict[str, dict]) -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    server.objects, server.paths = objects, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.paths
    finally:
        server.shutdown()
        server.server_close()


def test_the_live_state_comes_from_the_json_api_and_a_missing_object_is_none(monkeypatch):
    path = "/storage/v1/b/raw/o/movie_review%2Fingest_date%3D2026-11-23%2Fmovie_review.csv"
    live = {"generation": "18", "size": "3", "crc32c": "Nks/tw=="}
    with metadata_stub({path: live}) as (host, asked):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        assert inputs.live_state(f"{REVIEWS}#17") == ObjectState(18, 3, "Nks/tw==")
        assert inputs.live_state("gs://raw/absent.csv#1") is None
    # The live object's metadata: no generation in the request, or a read of 17 would answer for 17.
    assert asked[0] == f"{path}?fields=generation,size,crc32c"


def test_an_unreachable_metadata_api_fails_loudly_after_its_retries(monkeypatch):
    monkeypatch.setattr(google_api, "ATTEMPTS", 2)
    monkeypatch.setattr(google_api.time, "sleep", lambda _s: None)
    with metadata_stub({}) as (host, _asked):
        dead = host
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", dead)
    with pytest.raises(google_api.ApiError, match=f"reading the metadata of {REVIEWS} failed"):
        inputs.live_state(f"{REVIEWS}#17")


def test_a_layer_marker_is_found_where_builds_write_it_and_an_absent_one_is_none(spark, tmp_path, monkeypatch):
    from obt_job import markers

    uri = f"file://{tmp_path}/classified/ingest_date=2026-11-23/0123456789abcdef/_LAYER.json"
    assert markers.find(spark, PathMap(), [uri]) == {uri: None}
    assert markers.write(spark, PathMap(), {uri: {"layer_key": "0123456789abcdef"}}) == {uri: None}
    assert markers.find(spark, PathMap(), [uri]) == {uri: markers.Marker(None, {"layer_key": "0123456789abcdef"})}
    # On Dataproc the JSON API tells whether a marker exists (and its generation) before the Hadoop read.
    marker = "gs://curated/classified/ingest_date=2026-11-23/0123456789abcdef/_LAYER.json"
    with metadata_stub({}) as (host, asked):
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", host)
        assert markers.find(spark, PathMap(), [marker]) == {marker: None}
    assert asked == [
        "/storage/v1/b/curated/o/classified%2Fingest_date%3D2026-11-23%2F0123456789abcdef%2F_LAYER.json"
        "?fields=generation"
    ]
