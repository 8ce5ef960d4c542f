"""Cloud Function (2nd gen) ``on_raw_landed``: CloudEvent ``google.cloud.storage.object.v1.finalized``.

Answers JSON ``{"action", "reason", "build_id"}`` (``obt.responses``): 200 to acknowledge (submitted, duplicate,
waiting, ignored, rejected), 5xx so that Eventarc redelivers (transient failures). The logic lives in
``obt.trigger.service``. Served as an HTTP function that parses the CloudEvent itself, so that it can answer.
"""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent

from obt import config, responses
from obt.services import Services
from obt.trigger.events import FINALIZED
from obt.trigger.service import on_raw_landed as handle


def _handle(event: CloudEvent) -> responses.Answer:
    settings = config.settings()
    outcome = handle(event, settings, Services.from_settings(settings))
    return responses.Answer(outcome.action, outcome.reason, outcome.build_id, outcome.missing)


@functions_framework.http
def on_raw_landed(request: flask.Request) -> responses.JsonResponse:
    return responses.serve_event(request, FINALIZED, _handle)
