"""Cloud Function (2nd gen) ``on_raw_landed``: CloudEvent ``google.cloud.storage.object.v1.finalized``.

Returns normally to acknowledge (submitted, duplicate, waiting, ignored, malformed); raises only for
transient failures so that Eventarc redelivers. The logic lives in ``obt.trigger.service``.
"""

from __future__ import annotations

import functools

import functions_framework

from obt.config import Settings
from obt.trigger.service import on_raw_landed as handle


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()


@functions_framework.cloud_event
def on_raw_landed(cloud_event) -> None:
    handle(cloud_event, _settings())
