"""Structured JSON logs on stdout, in the shape Cloud Logging parses (``severity``, ``message``).

Every step says what it did and why: pass context as keyword fields, e.g.
``log.info("build submitted", build_id=b, reason="all inputs present")``.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelno, "DEFAULT"),
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class StructuredLogger:
    """A thin wrapper so call sites read ``log.info("msg", key=value)``."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def _log(self, level: int, message: str, exc_info: bool, fields: dict[str, Any]) -> None:
        self._logger.log(level, message, exc_info=exc_info, extra={"fields": fields})

    def debug(self, message: str, **fields: Any) -> None:
        self._log(logging.DEBUG, message, False, fields)

    def info(self, message: str, **fields: Any) -> None:
        self._log(logging.INFO, message, False, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._log(logging.WARNING, message, False, fields)

    def error(self, message: str, exc_info: bool = False, **fields: Any) -> None:
        self._log(logging.ERROR, message, exc_info, fields)


_configured = False


def configure(level: int = logging.INFO) -> None:
    """Send JSON lines to stdout once per process (Cloud Functions captures stdout)."""
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _configured = True


def get_logger(name: str) -> StructuredLogger:
    configure()
    return StructuredLogger(name)
