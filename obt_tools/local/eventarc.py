"""The Eventarc stand-in: pulls Pub/Sub subscriptions and POSTs binary-mode CloudEvents to the functions.

Routes (``python -m obt_tools.local.eventarc --project P --on-raw-landed-url URL --load-obt-url URL``):

- ``eventarc-on-raw-landed`` (fake-gcs-server's OBJECT_FINALIZE notifications on ``obt-raw-notifications``)
  -> ``google.cloud.storage.object.v1.finalized`` to ``on_raw_landed``, for the raw bucket only;
- ``eventarc-load-obt`` (on ``obt-build-complete``) -> ``google.cloud.pubsub.topic.v1.messagePublished``
  to ``load_obt``.

Headers and data have GCP's shapes. A message is acknowledged only after every delivery of it returned 2xx;
otherwise its ack deadline is set to a short, growing backoff, so the emulator redelivers it and nothing is
lost (as in production, ``eventarc-load-obt`` moves a message to ``obt-build-complete-dlq`` after
``obt_tools.local.pubsub.MAX_DELIVERY_ATTEMPTS`` failed attempts, where it stays visible). ``--duplicates N``
(or ``OBT_EVENTARC_DUPLICATES``) delivers every event N times with the same id, as at-least-once platforms
do. ``deliver`` sends one event by hand (build it with ``storage_event`` or ``pubsub_event``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from obt.config import BUILD_TOPIC
from obt.log import get_logger
from obt_tools.local.pubsub import LOAD_OBT_SUBSCRIPTION, ON_RAW_LANDED_SUBSCRIPTION

log = get_logger("obt_tools.local.eventarc")

STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
DELIVERY_TIMEOUT_SECONDS = 540  # gen2 event functions time out at 9 minutes
MAX_BACKOFF_SECONDS = 10


@dataclass(frozen=True)
class Message:
    """A Pub/Sub message as pulled, independent of the client library."""

    data: bytes
    attributes: Mapping[str, str]
    message_id: str
    publish_time: datetime


@dataclass(frozen=True)
class CloudEvent:
    """A binary-mode CloudEvent: ``ce-*`` headers plus a JSON body."""

    headers: Mapping[str, str]
    data: Mapping[str, Any]

    @property
    def id(self) -> str:
        return self.headers["ce-id"]

    @property
    def type(self) -> str:
        return self.headers["ce-type"]

    def body(self) -> bytes:
        return json.dumps(self.data).encode()


def rfc3339(moment: datetime) -> str:
    """GCP's timestamp shape: UTC, microseconds trimmed to what is there, ``Z`` suffix."""
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def storage_object_data(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The object resource as GCS sends it to Eventarc: int64 fields as strings, links and id filled in."""
    data = dict(resource)
    bucket, name = str(data["bucket"]), str(data["name"])
    generation = str(data["generation"])
    data["kind"] = "storage#object"
    data["generation"] = generation
    data["metageneration"] = str(data.get("metageneration", "1"))
    data["size"] = str(data.get("size", "0"))
    data.setdefault("contentType", "application/octet-stream")
    data.setdefault("id", f"{bucket}/{name}/{generation}")
    quoted = urllib.parse.quote(name, safe="")
    data.setdefault("selfLink", f"https://www.googleapis.com/storage/v1/b/{bucket}/o/{quoted}")
    data.setdefault(
        "mediaLink",
        f"https://storage.googleapis.com/download/storage/v1/b/{bucket}/o/{quoted}?generation={generation}&alt=media",
    )
    data.setdefault("storageClass", "STANDARD")
    if "timeCreated" in data:
        data.setdefault("updated", data["timeCreated"])
        data.setdefault("timeStorageClassUpdated", data["timeCreated"])
    return data


def _event_time(data: Mapping[str, Any]) -> str:
    return str(data.get("updated") or data.get("timeCreated") or rfc3339(datetime.now(UTC)))


def storage_event(bucket: str, resource: Mapping[str, Any], event_id: str, event_time: str | None = None) -> CloudEvent:
    """A ``google.cloud.storage.object.v1.finalized`` event for an object resource (JSON API shape)."""
    data = storage_object_data({**resource, "bucket": bucket})
    headers = {
        "ce-specversion": "1.0",
        "ce-id": event_id,
        "ce-source": f"//storage.googleapis.com/projects/_/buckets/{bucket}",
        "ce-type": STORAGE_FINALIZED,
        "ce-subject": f"objects/{data['name']}",
        "ce-time": event_time or _event_time(data),
        "ce-bucket": bucket,
        "Content-Type": "application/json",
    }
    return CloudEvent(headers, data)


def storage_event_from_notification(message: Message) -> CloudEvent | None:
    """Turn a JSON_API_V1 OBJECT_FINALIZE notification into the CloudEvent; ``None`` for other event types."""
    if message.attributes.get("eventType") != "OBJECT_FINALIZE":
        return None
    resource = json.loads(message.data)
    bucket = message.attributes.get("bucketId") or resource["bucket"]
    return storage_event(bucket, resource, storage_event_id(bucket, resource["name"], str(resource["generation"])))


def storage_event_id(bucket: str, name: str, generation: str) -> str:
    """A numeric id (GCP's ids are numeric) unique per object generation. The emulator's message ids restart
    at 1 with every run, so they would collide across restarts; a redelivered notification keeps its id."""
    digest = hashlib.sha256(f"{bucket}/{name}#{generation}".encode()).hexdigest()
    return str(int(digest[:15], 16))


def pubsub_event(project: str, topic: str, subscription: str, message: Message) -> CloudEvent:
    """A ``google.cloud.pubsub.topic.v1.messagePublished`` event, body as Eventarc wraps the message."""
    published = rfc3339(message.publish_time)
    wrapped: dict[str, Any] = {"data": base64.b64encode(message.data).decode()}
    if message.attributes:
        wrapped["attributes"] = dict(message.attributes)
    wrapped.update(
        {
            "messageId": message.message_id,
            "message_id": message.message_id,
            "publishTime": published,
            "publish_time": published,
        }
    )
    headers = {
        "ce-specversion": "1.0",
        "ce-id": message.message_id,
        "ce-source": f"//pubsub.googleapis.com/projects/{project}/topics/{topic}",
        "ce-type": PUBSUB_PUBLISHED,
        "ce-time": published,
        "Content-Type": "application/json",
    }
    return CloudEvent(headers, {"message": wrapped, "subscription": f"projects/{project}/subscriptions/{subscription}"})


def deliver(url: str, event: CloudEvent, timeout: float = DELIVERY_TIMEOUT_SECONDS) -> int:
    """POST one binary-mode CloudEvent; returns the HTTP status (0 when the function is unreachable)."""
    request = urllib.request.Request(url, data=event.body(), method="POST", headers=dict(event.headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def backoff_seconds(attempt: int) -> int:
    """1, 2, 4, 8, 10, 10 … seconds before the emulator redelivers a failed message."""
    return min(2 ** max(attempt - 1, 0), MAX_BACKOFF_SECONDS)


@dataclass
class Route:
    """One trigger: a subscription pulled, the events it makes, where they go."""

    name: str
    subscription: str
    url: str
    kind: str  # "storage" or "pubsub"
    project: str
    topic: str = ""
    bucket: str = ""
    attempts: dict[str, int] = field(default_factory=dict)

    def event_for(self, message: Message) -> CloudEvent | None:
        if self.kind == "storage":
            event = storage_event_from_notification(message)
            if event is None or (self.bucket and event.headers["ce-bucket"] != self.bucket):
                return None
            return event
        return pubsub_event(self.project, self.topic, self.subscription, message)


class Dispatcher:
    """Pull, deliver (``duplicates`` times), ack on 2xx, nack with backoff otherwise."""

    def __init__(self, routes: Sequence[Route], duplicates: int = 1, workers: int = 4) -> None:
        from google.cloud import pubsub_v1

        if duplicates < 1:
            raise ValueError("duplicates must be >= 1")
        self.routes = list(routes)
        self.duplicates = duplicates
        self.subscriber = pubsub_v1.SubscriberClient()
        self.stopping = threading.Event()
        self.workers = workers
        self._lock = threading.Lock()

    def _path(self, route: Route) -> str:
        return self.subscriber.subscription_path(route.project, route.subscription)

    def handle(self, route: Route, ack_id: str, message: Message, delivery_attempt: int = 0) -> bool:
        """Deliver one message; True when it was acknowledged. ``delivery_attempt`` is Pub/Sub's count
        (set on subscriptions with a dead-letter policy); otherwise attempts are counted here."""
        path = self._path(route)
        event = route.event_for(message)
        if event is None:
            log.info(
                "event skipped",
                route=route.name,
                message_id=message.message_id,
                reason="not routed here",
                attributes=dict(message.attributes),
            )
            self.subscriber.acknowledge(request={"subscription": path, "ack_ids": [ack_id]})
            return True
        with self._lock:
            attempt = delivery_attempt or route.attempts.get(message.message_id, 0) + 1
            route.attempts[message.message_id] = attempt
        statuses = []
        for copy in range(1, self.duplicates + 1):
            started = time.monotonic()
            status = deliver(route.url, event)
            statuses.append(status)
            log.info(
                "event delivered" if 200 <= status < 300 else "event delivery failed",
                route=route.name,
                event_id=event.id,
                event_type=event.type,
                subject=event.headers.get("ce-subject", ""),
                url=route.url,
                status=status,
                attempt=attempt,
                copy=copy,
                duration_ms=round((time.monotonic() - started) * 1000),
            )
        if all(200 <= s < 300 for s in statuses):
            self.subscriber.acknowledge(request={"subscription": path, "ack_ids": [ack_id]})
            with self._lock:
                route.attempts.pop(message.message_id, None)
            return True
        delay = backoff_seconds(attempt)
        self.subscriber.modify_ack_deadline(
            request={"subscription": path, "ack_ids": [ack_id], "ack_deadline_seconds": delay}
        )
        log.warning(
            "event will be redelivered",
            route=route.name,
            event_id=event.id,
            attempt=attempt,
            backoff_seconds=delay,
            reason=f"HTTP statuses {statuses}",
        )
        return False

    def _serve(self, route: Route) -> None:
        from google.api_core import exceptions as gexc

        path = self._path(route)
        slots = threading.Semaphore(self.workers)
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix=route.name) as pool:
            while not self.stopping.is_set():
                slots.acquire()
                slots.release()
                try:
                    response = self.subscriber.pull(
                        request={"subscription": path, "max_messages": self.workers}, timeout=30
                    )
                except (gexc.DeadlineExceeded, gexc.ServiceUnavailable) as exc:
                    log.debug("pull returned nothing", route=route.name, reason=type(exc).__name__)
                    continue
                except gexc.GoogleAPICallError as exc:
                    log.error("pull failed, retrying", route=route.name, subscription=path, error=str(exc))
                    self.stopping.wait(1)
                    continue
                for received in response.received_messages:
                    slots.acquire()
                    msg = received.message
                    message = Message(bytes(msg.data), dict(msg.attributes), msg.message_id, msg.publish_time)
                    pool.submit(self._handle_safely, route, received, message, slots)

    def _handle_safely(self, route: Route, received: Any, message: Message, slots: threading.Semaphore) -> None:
        try:
            self.handle(route, received.ack_id, message, int(received.delivery_attempt or 0))
        except Exception as exc:  # a bug or a broken message must not stop the trigger; the deadline redelivers
            log.error(
                "event handling crashed",
                route=route.name,
                message_id=message.message_id,
                error=repr(exc),
                exc_info=True,
            )
        finally:
            slots.release()

    def run(self) -> None:
        threads = [threading.Thread(target=self._serve, args=(r,), name=r.name, daemon=True) for r in self.routes]
        for thread in threads:
            thread.start()
        log.info(
            "eventarc stand-in running",
            routes=[{"name": r.name, "subscription": r.subscription, "url": r.url} for r in self.routes],
            duplicates=self.duplicates,
        )
        self.stopping.wait()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m obt_tools.local.eventarc", description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--raw-bucket", default="obt-raw", help="only finalize events of this bucket are routed")
    parser.add_argument("--build-topic", default=BUILD_TOPIC)
    parser.add_argument("--on-raw-landed-url", default="")
    parser.add_argument("--on-raw-landed-subscription", default=ON_RAW_LANDED_SUBSCRIPTION)
    parser.add_argument("--load-obt-url", default="")
    parser.add_argument("--load-obt-subscription", default=LOAD_OBT_SUBSCRIPTION)
    parser.add_argument(
        "--duplicates",
        type=int,
        default=int(os.environ.get("OBT_EVENTARC_DUPLICATES", "1") or 1),
        help="deliver every event this many times (duplicate injection)",
    )
    parser.add_argument("--workers", type=int, default=4, help="concurrent deliveries per route")
    return parser


def routes_from_args(args: argparse.Namespace) -> list[Route]:
    routes = []
    if args.on_raw_landed_url:
        routes.append(
            Route(
                "on_raw_landed",
                args.on_raw_landed_subscription,
                args.on_raw_landed_url,
                "storage",
                args.project,
                bucket=args.raw_bucket,
            )
        )
    if args.load_obt_url:
        routes.append(
            Route(
                "load_obt",
                args.load_obt_subscription,
                args.load_obt_url,
                "pubsub",
                args.project,
                topic=args.build_topic,
            )
        )
    return routes


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.environ.get("PUBSUB_EMULATOR_HOST"):
        print("eventarc stand-in: error: PUBSUB_EMULATOR_HOST is not set", file=sys.stderr)
        return 2
    if args.duplicates < 1:
        print("eventarc stand-in: error: --duplicates must be >= 1", file=sys.stderr)
        return 2
    routes = routes_from_args(args)
    if not routes:
        print("eventarc stand-in: error: no route (give --on-raw-landed-url and/or --load-obt-url)", file=sys.stderr)
        return 2
    dispatcher = Dispatcher(routes, duplicates=args.duplicates, workers=args.workers)
    signal.signal(signal.SIGTERM, lambda *_: dispatcher.stopping.set())
    signal.signal(signal.SIGINT, lambda *_: dispatcher.stopping.set())
    dispatcher.run()
    log.info("eventarc stand-in stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
