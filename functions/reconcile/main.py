"""Cloud Function (2nd gen) ``reconcile``: HTTP, called by Cloud Scheduler every 15 minutes (OIDC).

Publishes the completion message of every recent OBT batch that ended without one, and again for every announced
build that still has no outcome in the load ledger after the grace period (``obt.reconcile.service``).
Optional JSON body ``{"lookback_hours": N, "grace_minutes": N, "dry_run": true}``. Every answer is JSON, an
unexpected error too (``obt.responses.json_errors``).
"""

from __future__ import annotations

import flask
import functions_framework

from obt import config, responses
from obt.reconcile.service import handle_request
from obt.services import Services


@functions_framework.http
@responses.json_errors
def reconcile(request: flask.Request) -> responses.JsonResponse:
    payload = request.get_json(silent=True) if request.get_data() else None
    if request.get_data() and payload is None:
        return responses.json_response({"error": "body must be JSON"}, 400)
    settings = config.settings()
    body, status = handle_request(payload, settings, Services.from_settings(settings))
    return responses.json_response(body, status)
