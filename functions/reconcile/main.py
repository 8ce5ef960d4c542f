"""Cloud Function (2nd gen) ``reconcile``: HTTP, called by Cloud Scheduler every 15 minutes (OIDC).

Publishes the completion message of every recent OBT batch that ended without one (``obt.reconcile.service``).
Optional JSON body ``{"lookback_hours": N, "dry_run": true}``.
"""

from __future__ import annotations

import flask
import functions_framework

from obt import config
from obt.reconcile.service import handle_request
from obt.services import Services


@functions_framework.http
def reconcile(request: flask.Request):
    payload = request.get_json(silent=True) if request.get_data() else None
    if request.get_data() and payload is None:
        return flask.jsonify({"error": "body must be JSON"}), 400
    settings = config.settings()
    body, status = handle_request(payload, settings, Services.from_settings(settings))
    return flask.jsonify(body), status
