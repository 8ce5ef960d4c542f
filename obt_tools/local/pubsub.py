"""Google's Pub/Sub emulator (from the Cloud CLI) with the topics and subscriptions production has.

Resources are created over the emulator's REST surface, so setting up needs no gRPC client and no
``PUBSUB_EMULATOR_HOST`` in this process. Locally only, ``obt-raw-notifications`` receives fake-gcs-server's
OBJECT_FINALIZE notifications, and the Eventarc stand-in pulls the ``eventarc-*`` subscriptions.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from obt.config import BUILD_TOPIC
from obt.log import get_logger
from obt_tools.local import procs

log = get_logger(__name__)

EMULATOR = Path(
    os.environ.get(
        "OBT_PUBSUB_EMULATOR", "/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator"
    )
)
SERVICE = "pubsub"

RAW_NOTIFICATIONS_TOPIC = "obt-raw-notifications"
DLQ_TOPIC = f"{BUILD_TOPIC}-dlq"
DLQ_SUBSCRIPTION = f"{BUILD_TOPIC}-dlq-sub"
ON_RAW_LANDED_SUBSCRIPTION = "eventarc-on-raw-landed"
LOAD_OBT_SUBSCRIPTION = "eventarc-load-obt"
# Long enough for a function to finish before the emulator redelivers on its own; the stand-in nacks
# (deadline 0 / short backoff) explicitly on failure.
ACK_DEADLINE_SECONDS = 600


# As production (scripts/deploy.sh): load_obt's trigger dead-letters a message after this many attempts.
MAX_DELIVERY_ATTEMPTS = 10


@dataclass(frozen=True)
class Subscription:
    name: str
    topic: str
    dead_letter_topic: str = ""


TOPICS: tuple[str, ...] = (BUILD_TOPIC, DLQ_TOPIC, RAW_NOTIFICATIONS_TOPIC)
SUBSCRIPTIONS: tuple[Subscription, ...] = (
    Subscription(DLQ_SUBSCRIPTION, DLQ_TOPIC),
    Subscription(ON_RAW_LANDED_SUBSCRIPTION, RAW_NOTIFICATIONS_TOPIC),
    Subscription(LOAD_OBT_SUBSCRIPTION, BUILD_TOPIC, dead_letter_topic=DLQ_TOPIC),
)


def java_binary() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise procs.ServiceError(
            "Java not found (the Pub/Sub emulator and Spark need it): install a Java 17 runtime "
            "(apt-get install openjdk-17-jre-headless)"
        )
    return found


def emulator_binary() -> Path:
    if not EMULATOR.exists():
        raise procs.ServiceError(
            f"Pub/Sub emulator not found at {EMULATOR}: install the Google Cloud CLI Pub/Sub emulator "
            "(apt-get install google-cloud-cli-pubsub-emulator, or gcloud components install pubsub-emulator) "
            "or set OBT_PUBSUB_EMULATOR"
        )
    return EMULATOR


def start_pubsub(
    state_dir: Path, project: str, port: int | None = None, die_with_parent: bool = False
) -> procs.Service:
    """Start the emulator, wait for it, and create every topic and subscription."""
    emulator = emulator_binary()
    java = java_binary()
    env = dict(os.environ)
    env.setdefault("JAVA_HOME", str(Path(java).resolve().parent.parent))

    def launch(chosen: int) -> procs.Service:
        argv = [str(emulator), f"--host={procs.HOST}", f"--port={chosen}"]
        host = f"{procs.HOST}:{chosen}"
        service = procs.start(SERVICE, argv, state_dir, port=chosen, url=host, env=env, die_with_parent=die_with_parent)
        procs.wait_for_port(service, timeout=90, check=lambda: procs.http_ok(f"http://{host}/"))
        return service

    service = procs.with_port(SERVICE, port, launch)
    create_resources(service.url, project)
    return service


def _put(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10):
            pass
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # already exists: creating is idempotent
            detail = exc.read()[:200]
            raise procs.ServiceError(f"Pub/Sub emulator refused PUT {url}: HTTP {exc.code} {detail!r}") from exc


def create_resources(host: str, project: str) -> None:
    base = f"http://{host}/v1/projects/{project}"
    for topic in TOPICS:
        _put(f"{base}/topics/{topic}", {})
    for sub in SUBSCRIPTIONS:
        body: dict[str, object] = {
            "topic": f"projects/{project}/topics/{sub.topic}",
            "ackDeadlineSeconds": ACK_DEADLINE_SECONDS,
        }
        if sub.dead_letter_topic:
            body["deadLetterPolicy"] = {
                "deadLetterTopic": f"projects/{project}/topics/{sub.dead_letter_topic}",
                "maxDeliveryAttempts": MAX_DELIVERY_ATTEMPTS,
            }
        _put(f"{base}/subscriptions/{sub.name}", body)
    log.info(
        "pubsub resources ready",
        project=project,
        topics=list(TOPICS),
        subscriptions=[s.name for s in SUBSCRIPTIONS],
    )
