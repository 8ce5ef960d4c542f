"""Cloud Function (2nd gen) ``load_obt``: CloudEvent ``google.cloud.pubsub.topic.v1.messagePublished``.

Answers JSON ``{"action", "reason", "build_id"}`` (``obt.responses``): 200 to acknowledge (loaded, skipped,
rejected: a malformed message or an unusable manifest), 5xx for anything else, e.g. a transient warehouse or
storage error, so that Pub/Sub redelivers. The logic lives in ``obt.load.service``. Served as an HTTP function that
parses the CloudEvent itself, so that it can answer. Deploy with max instances 1 and concurrency 1: loads into the
OBT are serialised per table.
"""

from __future__ import annotations

import flask
import functions_framework
from cloudevents.http import CloudEvent

from obt import config, responses
from obt.load.service import handle_event
from obt.services import Services

MESSAGE_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"


def _handle(event: CloudEvent) -> responses.Answer:
    settings = config.settings()
    outcome = handle_event(event.data, settings, Services.from_settings(settings), event_id=str(event["id"]))
    return responses.Answer(outcome.outcome, outcome.reason, outcome.build_id or None)


@functions_framework.http
def load_obt(request: flask.Request) -> responses.JsonResponse:
    return responses.serve_event(request, MESSAGE_PUBLISHED, _handle)
