"""Publishing a completion message to the build topic: the ``Publisher`` port and its Pub/Sub adapter.

``obt reconcile`` and ``obt backfill`` publish through it (the Spark job, which cannot import ``obt``, has a
stdlib transport of its own). The body is the contract's encoding (``obt_contract.message.encode``) and the
attributes are ``CompletionMessage.attributes(origin)``, so a subscriber can tell who published without
parsing. Against the local cloud the client library talks to the emulator (``PUBSUB_EMULATOR_HOST``).
"""

from __future__ import annotations

from typing import Protocol

from obt import clients
from obt_contract.message import CompletionMessage, encode

PUBLISH_TIMEOUT_S = 60.0


class Publisher(Protocol):
    def publish(self, message: CompletionMessage, origin: str) -> str:
        """Publish ``message``; returns the Pub/Sub message id once the topic has accepted it."""


class PubSubPublisher:
    def __init__(self, topic_path: str, timeout: float = PUBLISH_TIMEOUT_S) -> None:
        self.topic_path = topic_path
        self.timeout = timeout

    def publish(self, message: CompletionMessage, origin: str) -> str:
        future = clients.publisher_client().publish(self.topic_path, encode(message), **message.attributes(origin))
        return future.result(timeout=self.timeout)
