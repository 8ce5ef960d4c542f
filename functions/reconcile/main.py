"""Cloud Function (2nd gen) ``reconcile``: HTTP, called by Cloud Scheduler every 15 minutes (OIDC).

Publishes the completion message of every recent OBT batch that ended without one (``obt.reconcile.service``).
Optional JSON body ``{"lookback_hours": N, "dry_run": true}``.
"""

from __future__ import annotations

import functools

import flask
import functions_framework

from obt.config import Settings
from obt.reconcile.service import handle_request


@functools.cache
def _settings() -> Settings:
    return Settings.from_env()


@functions_framework.http
def reconcile(request: flask.Request):
    payload = request.get_json(silent=True) if request.get_data() else None
    if request.get_data() and payload is None:
        return flask.jsonify({"error": "body must be JSON"}), 400
    body, status = handle_request(payload, _settings())
    return flask.jsonify(body), status
