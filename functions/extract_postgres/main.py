"""Cloud Function (2nd gen, HTTP, Cloud Scheduler target): export PostgreSQL tables to the raw bucket.

Body: ``{"tables": ["user_purchase"], "ingest_date": "YYYY-MM-DD", "run_id": "R"}``, every field optional
(see ``obt.extract.request``). Answers 200 with the snapshots' manifests, 400 for a bad request, 503 when
the database or storage is unavailable (Scheduler retries; a retry never duplicates a snapshot); every answer is
JSON, an unexpected error too (``obt.responses.json_errors``).
"""

import flask
import functions_framework

from obt import responses
from obt.extract.http import handle


@functions_framework.http
@responses.json_errors
def extract_postgres(request: flask.Request) -> responses.JsonResponse:
    return handle(request)
