"""HTTP mapping for the ``extract_postgres`` function: 400 bad request, 503 retry later, 200 manifests.

Cloud Scheduler retries any non-2xx answer with backoff; 503 says so explicitly for an unreachable
database or failed storage. A permanent problem (missing table, corrupt manifest) answers 500 with its
reason, so it is visible in the job's log rather than silently acknowledged.
"""

from __future__ import annotations

from obt import config
from obt.config import ConfigError
from obt.errors import PermanentError, TransientError
from obt.extract.request import BadRequest, parse_body
from obt.extract.service import response_body, run_extract
from obt.log import get_logger
from obt.responses import JsonResponse, json_response

log = get_logger(__name__)

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


def handle(request) -> JsonResponse:
    """``request`` is the Flask request functions-framework passes in."""
    try:
        settings = config.settings()
        extract = parse_body(
            request.get_data(cache=False) or b"",
            allowed=settings.extract_tables,
            schedule_time=request.headers.get(SCHEDULE_TIME_HEADER),
        )
    except BadRequest as exc:
        log.warning("extract request rejected", reason=str(exc))
        return json_response({"error": str(exc)}, 400)
    except ConfigError as exc:
        log.error("extract misconfigured", reason=str(exc))
        return json_response({"error": f"configuration: {exc}"}, 500)
    log.info(
        "extract requested",
        tables=list(extract.tables),
        ingest_date=extract.ingest_date.isoformat(),
        run_id=extract.run_id,
    )
    try:
        outcomes = run_extract(settings, extract)
    except TransientError as exc:
        log.warning("extract failed, retry later", reason=str(exc))
        return json_response({"error": str(exc), "retry": True}, 503)
    except PermanentError as exc:
        log.error("extract failed permanently", reason=str(exc))
        return json_response({"error": str(exc), "retry": False}, 500)
    return json_response(response_body(outcomes), 200)
