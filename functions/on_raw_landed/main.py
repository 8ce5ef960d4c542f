"""Cloud Function (2nd gen) ``on_raw_landed``: CloudEvent ``google.cloud.storage.object.v1.finalized``.

Returns normally to acknowledge (submitted, duplicate, waiting, ignored, malformed); raises only for
transient failures so that Eventarc redelivers. The logic lives in ``obt.trigger.service``.
"""

from __future__ import annotations

import functions_framework

from obt import config
from obt.services import Services
from obt.trigger.service import on_raw_landed as handle


@functions_framework.cloud_event
def on_raw_landed(cloud_event) -> None:
    settings = config.settings()
    handle(cloud_event, settings, Services.from_settings(settings))
