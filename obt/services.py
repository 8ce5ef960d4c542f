"""The services a use case reaches, built from the settings by one factory and passed explicitly.

The trigger, the loader, reconcile and backfill take ``(settings, services)`` and reach storage, Pub/Sub,
Dataproc and the warehouse only through these ports, never through ``obt.clients``; tests swap a field with
``dataclasses.replace``. Building is cheap and connects to nothing: each adapter creates (or reuses, see
``obt.clients``) its Google client on first use, and the warehouse is opened on the first ``warehouse()``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from obt.config import Settings
from obt.objects import GcsObjects, Objects
from obt.publisher import Publisher, PubSubPublisher
from obt.trigger.batches import Batches, DataprocBatches
from obt.warehouse import Warehouse, open_warehouse


@dataclass(frozen=True)
class Services:
    objects: Objects
    publisher: Publisher
    batches: Batches
    # Opens the warehouse on first call and returns that one afterwards: only the loader needs it.
    warehouse: Callable[[], Warehouse]

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        return cls(
            objects=GcsObjects(settings),
            publisher=PubSubPublisher(settings.topic_path),
            batches=DataprocBatches(settings),
            warehouse=functools.cache(functools.partial(open_warehouse, settings)),
        )
