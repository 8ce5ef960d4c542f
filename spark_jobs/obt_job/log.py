"""Structured JSON log lines on stdout (``severity``, ``message`` + fields), as Cloud Logging parses them.

Dataproc forwards driver stdout to Cloud Logging; a separate tiny logger because ``obt.log`` is not on Dataproc.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any


class JobLogger:
    def __init__(self, name: str) -> None:
        self._name = name

    def _emit(self, severity: str, message: str, fields: dict[str, Any]) -> None:
        entry: dict[str, Any] = {
            "severity": severity,
            "message": message,
            "time": datetime.now(UTC).isoformat(),
            "logger": self._name,
        }
        entry.update(fields)
        print(json.dumps(entry, default=str), file=sys.stdout, flush=True)

    def info(self, message: str, **fields: Any) -> None:
        self._emit("INFO", message, fields)

    def warning(self, message: str, **fields: Any) -> None:
        self._emit("WARNING", message, fields)

    def error(self, message: str, **fields: Any) -> None:
        self._emit("ERROR", message, fields)


def get_logger(name: str) -> JobLogger:
    return JobLogger(name)
