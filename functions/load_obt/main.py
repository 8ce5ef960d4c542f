"""Cloud Function (2nd gen) ``load_obt``: CloudEvent ``google.cloud.pubsub.topic.v1.messagePublished``.

Returns normally to acknowledge (loaded, skipped, rejected, malformed message); raises for anything else,
e.g. a transient warehouse or storage error, so that Pub/Sub redelivers. The logic lives in ``obt.load.service``.
Deploy with max instances 1 and concurrency 1: loads into the OBT are serialised per table.
"""

from __future__ import annotations

import functions_framework

from obt.config import Settings
from obt.load.service import handle_event
from obt.objects import BuildObjects
from obt.warehouse import open_warehouse


@functions_framework.cloud_event
def load_obt(cloud_event) -> None:
    # Settings are read per event (cheap); the Google clients behind them are cached per instance.
    settings = Settings.from_env()
    handle_event(
        cloud_event.data,
        settings=settings,
        warehouse=open_warehouse(settings),
        objects=BuildObjects(settings),
        event_id=str(cloud_event["id"]),
    )
