"""Cloud Function (2nd gen) ``load_obt``: CloudEvent ``google.cloud.pubsub.topic.v1.messagePublished``.

Returns normally to acknowledge (loaded, skipped, rejected, malformed message); raises for anything else,
e.g. a transient warehouse or storage error, so that Pub/Sub redelivers. The logic lives in ``obt.load.service``.
Deploy with max instances 1 and concurrency 1: loads into the OBT are serialised per table.
"""

from __future__ import annotations

import functions_framework

from obt import config
from obt.load.service import handle_event
from obt.services import Services


@functions_framework.cloud_event
def load_obt(cloud_event) -> None:
    settings = config.settings()
    handle_event(cloud_event.data, settings, Services.from_settings(settings), event_id=str(cloud_event["id"]))
