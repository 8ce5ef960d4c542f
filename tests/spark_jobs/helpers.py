"""Test inputs: job arguments, one vendor date through both phases of its rules, a stub Pub/Sub REST endpoint, a raw
bucket of pinned generations and the job run on it in local mirror mode."""

from __future__ import annotations

import base64
import gzip
import io
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import count
from pathlib import Path

import pytest

from obt_contract.layout import mirror_name, pinned_uri
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW

RAW = "obt-raw"
CURATED = "obt-curated"

TOPIC = "projects/obt-test/topics/obt-build-complete"
DAY = date(2026, 11, 23)


def classify_one_date(source, df):
    """A vendor source's rows of one ingest date (``df``: its string columns and ``_corrupt``) through both phases
    of its rules, as a build takes them (``sources.VendorSource``): per row into the layer's rows, then across the
    build's dates, here that one; the texts are kept, so a test can read them."""
    from pyspark.sql import functions as F

    dated = df.withColumn("ingest_date", F.lit(DAY))
    return source.apply_rules(source.layer_rows(source.classify_rows(dated, 2)))


def write_snapshot_manifest(path: Path, parts: Sequence[Path], total_rows: int) -> None:
    path.write_text(
        json.dumps(
            {
                "kind": "snapshot",
                "table": "user_purchase",
                "parts": [{"uri": p.as_uri()} for p in parts],
                "total_rows": total_rows,
            }
        )
    )


def job_argv(
    build_id: str,
    manifest: str,
    purchases: Sequence[str],
    reviews: Sequence[str],
    logs: Sequence[str],
    output: str,
    max_share: float = 0.5,
    tagger_model: str | None = None,
) -> list[str]:
    argv = ["--build-id", build_id, "--input-watermark", "42", "--purchases-manifest", manifest]
    for uri in purchases:
        argv += ["--purchases", uri]
    for uri in reviews:
        argv += ["--movie-reviews", uri]
    for uri in logs:
        argv += ["--log-reviews", uri]
    argv += ["--output", output, "--topic", TOPIC, "--max-quarantine-share", str(max_share)]
    return argv + ["--tagger-model", tagger_model] if tagger_model else argv


class _Recorder(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        server = self.server
        for message in body["messages"]:
            server.published.append(
                {
                    "path": self.path,
                    "data": json.loads(base64.b64decode(message["data"])),
                    "attributes": message.get("attributes", {}),
                }
            )
        answer = json.dumps({"messageIds": [str(len(server.published))]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def pubsub_stub() -> Iterator[tuple[str, list[dict]]]:
    """A local stand-in for the Pub/Sub REST publish call; yields (host:port, published messages)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    server.published = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", server.published
    finally:
        server.shutdown()
        server.server_close()


def gz(text: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as f:
        f.write(text)
    return buf.getvalue()


class RawBucket:
    """Raw objects by name at their current generation, as the planner pins them."""

    def __init__(self) -> None:
        self.objects: dict[str, tuple[int, bytes]] = {}
        self._generations = count(1_000)

    def put(self, name: str, data: bytes) -> None:
        self.objects[name] = (next(self._generations), data)

    def uri(self, name: str) -> str:
        return pinned_uri(RAW, name, self.objects[name][0])

    def vendor(self, source: str) -> list[str]:
        return sorted(self.uri(name) for name in self.objects if name.startswith(f"{source}/"))

    def stage(self, mirror: Path) -> None:
        """What the local Dataproc endpoint does before the driver starts: each pinned generation into its file."""
        for name, (_, data) in self.objects.items():
            path = mirror / mirror_name(self.uri(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def build_in_mirror(spark, bucket: RawBucket, snapshot: str, mirror: Path, build_id: str, *flags: str) -> dict:
    """The job on ``bucket``'s current objects (the purchase snapshot under the ``snapshot`` prefix: its
    ``part-00000.csv`` and ``_MANIFEST.json``; every vendor file) in local mirror mode with ``mirror`` as its folder,
    publishing to a stub; returns its manifest. The outputs are under ``mirror / CURATED``. The storage emulator
    (``STORAGE_EMULATOR_HOST``) holds the curated bucket, where a later build finds this one's classified layer even
    from a fresh mirror folder."""
    from obt_job import job
    from obt_job.args import parse_args
    from obt_job.paths import MIRROR_CONF

    bucket.stage(mirror)
    part, manifest_uri = (bucket.uri(f"{snapshot}{name}") for name in ("part-00000.csv", "_MANIFEST.json"))
    records = len(bucket.objects[f"{snapshot}part-00000.csv"][1].splitlines()) - 1  # a header, no quoted newlines
    write_snapshot_manifest(mirror / mirror_name(manifest_uri), [], total_rows=records)
    argv = job_argv(
        build_id, manifest_uri, [part], bucket.vendor(MOVIE_REVIEW), bucket.vendor(LOG_REVIEWS), f"gs://{CURATED}"
    )
    spark.conf.set(MIRROR_CONF, str(mirror))
    try:
        with pubsub_stub() as (host, _published), pytest.MonkeyPatch.context() as mp:
            mp.setenv("PUBSUB_EMULATOR_HOST", host)
            return job.run(spark, parse_args([*argv, *flags]))
    finally:
        spark.conf.unset(MIRROR_CONF)
