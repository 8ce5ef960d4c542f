"""The dead letters of the build topic: list what waits in ``obt-build-complete-dlq-sub``, and replay it.

After its delivery attempts run out, load_obt's trigger moves a completion message to ``obt-build-complete-dlq``,
whose subscription keeps it visible (production: the dead-letter policy ``scripts/deploy.sh`` attaches; locally:
the same policy on the Eventarc stand-in's subscription, enforced by the Pub/Sub emulator). ``obt reconcile``
closes the gap by itself once the grace period has passed; ``obt dlq`` is for the person who wants to see the
dead letters, or replay them now. The same client code talks to GCP and to the emulator (``PUBSUB_EMULATOR_HOST``).

Decisions:

- Listing leases every message (pull) and then hands them all back at once (ack deadline 0): nothing is
  consumed. A pull waits up to ``wait`` seconds (no deprecated ``return_immediately``); an empty pull ends the
  listing, and a message id already seen is not listed twice.
- Replaying publishes each dead letter again to the build topic through the ``Publisher`` port (the contract's
  body, attributes ``build_id``, ``status`` and the original ``origin``: a replay is the same message delivered
  again), oldest first, and acknowledges it in the dead-letter subscription only after the topic accepted it. A
  crash in between leaves it there, to be replayed again; that is harmless, because the loader skips a build it
  has loaded, so replaying is idempotent.
- Identical dead letters (the same body: e.g. the job's message and reconcile's republication, both dead-lettered
  while the loader was down) are published once, and every copy is acknowledged.
- A dead letter that is not a valid completion message (``obt_contract.message.parse_message``) is never
  replayed, since the loader would only reject it: it stays in the subscription and is reported.
- The first failed publish stops the replay (the topic refuses or is unreachable; the rest would fail alike):
  that dead letter and every one not yet replayed stay in the subscription, and the failure is the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from google.api_core import exceptions as gexc

from obt import clients
from obt.config import Settings
from obt.errors import UserError
from obt.log import get_logger
from obt.services import Services
from obt_contract.message import CompletionMessage, MessageError, encode, parse_message
from obt_tools.backfill import ORIGIN as BACKFILL_ORIGIN
from obt_tools.local.pubsub import DLQ_SUBSCRIPTION

log = get_logger(__name__)

PULL_WAIT_SECONDS = 5.0
MAX_PER_PULL = 100
# Set by Pub/Sub (and the emulator) on every message it dead-letters.
DELIVERY_COUNT = "CloudPubSubDeadLetterSourceDeliveryCount"
SOURCE_PUBLISH_TIME = "CloudPubSubDeadLetterSourceTopicPublishTime"


@dataclass(frozen=True)
class DeadLetter:
    """One message of the dead-letter subscription, as pulled (and leased by this process)."""

    ack_id: str
    message_id: str
    data: bytes
    attributes: dict[str, str]
    # When it was first published (to the build topic); its dead-letter publish time when Pub/Sub does not say.
    published_at: datetime
    delivery_attempts: int | None
    message: CompletionMessage | None  # None: not a completion message, see ``problem``
    problem: str = ""

    @property
    def build_id(self) -> str:
        return self.message.build_id if self.message else self.attributes.get("build_id", "")

    @property
    def status(self) -> str:
        return self.message.status if self.message else self.attributes.get("status", "")

    @property
    def origin(self) -> str:
        return self.attributes.get("origin", "")


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    outcome: str  # "replayed" | "copy" (of one replayed in this run) | "kept" (still in the subscription)
    detail: str  # the new message id, or why it was kept


@dataclass
class ReplayReport:
    results: list[Replayed] = field(default_factory=list)
    error: str = ""  # the publish failure that stopped the replay


def subscription_path(settings: Settings, name: str = DLQ_SUBSCRIPTION) -> str:
    return f"projects/{settings.project}/subscriptions/{name}"


@contextmanager
def _pubsub(what: str) -> Iterator[None]:
    """Pub/Sub errors as one line a person can act on (missing subscription, no emulator, no permission)."""
    try:
        yield
    except gexc.GoogleAPICallError as exc:
        raise UserError(f"{what} failed: {exc.message or exc}") from exc


def _moment(text: str | None, fallback: datetime) -> datetime:
    try:
        return datetime.fromisoformat(text) if text else fallback
    except ValueError:
        return fallback


def dead_letter(received: Any, curated_bucket: str) -> DeadLetter:
    """A pulled ``ReceivedMessage`` -> ``DeadLetter``, its body checked as the loader would check it."""
    msg = received.message
    attributes = dict(msg.attributes)
    data = bytes(msg.data)
    count = attributes.get(DELIVERY_COUNT, "")
    try:
        message, problem = parse_message(data, curated_bucket), ""
    except MessageError as exc:
        message, problem = None, f"not a completion message: {exc}"
    own_time = msg.publish_time.astimezone(UTC)
    return DeadLetter(
        ack_id=received.ack_id,
        message_id=msg.message_id,
        data=data,
        attributes=attributes,
        published_at=_moment(attributes.get(SOURCE_PUBLISH_TIME), own_time),
        delivery_attempts=int(count) if count.isdigit() else None,
        message=message,
        problem=problem,
    )


def _pull(subscription: str, wait: float) -> list[Any]:
    try:
        response = clients.subscriber_client().pull(
            request={"subscription": subscription, "max_messages": MAX_PER_PULL}, timeout=wait, retry=None
        )
    except gexc.DeadlineExceeded:
        return []  # GCP holds an empty pull until the deadline; the emulator answers empty
    return list(response.received_messages)


def pull_all(settings: Settings, subscription: str, wait: float = PULL_WAIT_SECONDS) -> list[DeadLetter]:
    """Lease every message of ``subscription``, oldest first (the caller acknowledges or releases them)."""
    letters: dict[str, DeadLetter] = {}
    while True:
        with _pubsub(f"pulling {subscription}"):
            received = _pull(subscription, wait)
        fresh = [r for r in received if r.message.message_id not in letters]
        if not fresh:
            return sorted(letters.values(), key=lambda d: (d.published_at, d.message_id))
        for item in fresh:
            letters[item.message.message_id] = dead_letter(item, settings.curated_bucket)


def release(subscription: str, letters: list[DeadLetter]) -> None:
    """Hand leased messages back at once (ack deadline 0): they stay in the subscription, visible again."""
    if letters:
        with _pubsub(f"releasing messages of {subscription}"):
            clients.subscriber_client().modify_ack_deadline(
                request={
                    "subscription": subscription,
                    "ack_ids": [d.ack_id for d in letters],
                    "ack_deadline_seconds": 0,
                }
            )


def list_dead_letters(settings: Settings, subscription: str, wait: float = PULL_WAIT_SECONDS) -> list[DeadLetter]:
    """Every dead letter, oldest first; none is consumed."""
    letters = pull_all(settings, subscription, wait)
    release(subscription, letters)
    return letters


def replay(settings: Settings, services: Services, subscription: str, wait: float = PULL_WAIT_SECONDS) -> ReplayReport:
    """Publish every dead letter again to the build topic and acknowledge it once published (see the module doc)."""
    report = ReplayReport()
    kept: list[DeadLetter] = []
    published: dict[bytes, str] = {}  # encoded body -> the message id it was replayed as
    for letter in pull_all(settings, subscription, wait):
        if letter.message is None or report.error:
            kept.append(letter)
            report.results.append(Replayed(letter, "kept", letter.problem or "not replayed: the replay stopped"))
            continue
        body = encode(letter.message)
        if body in published:
            outcome, detail = "copy", published[body]
        else:
            try:
                detail = services.publisher.publish(letter.message, letter.origin or BACKFILL_ORIGIN)
            except Exception as exc:
                report.error = f"publishing {letter.build_id} to {settings.topic_path} failed: {exc}"
                kept.append(letter)
                report.results.append(Replayed(letter, "kept", report.error))
                continue
            outcome = "replayed"
            published[body] = detail
        # Only now: a message is never acknowledged before the build topic has taken it (or its identical copy).
        with _pubsub(f"acknowledging message {letter.message_id} in {subscription}"):
            clients.subscriber_client().acknowledge(request={"subscription": subscription, "ack_ids": [letter.ack_id]})
        log.info(
            "dead letter replayed",
            build_id=letter.build_id,
            status=letter.status,
            dead_letter=letter.message_id,
            outcome=outcome,
            message_id=detail,
        )
        report.results.append(Replayed(letter, outcome, detail))
    release(subscription, kept)
    return report
