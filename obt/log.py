"""Structured logs: JSON lines on stdout for the functions, human lines on stderr for the ``obt`` command.

Every step says what it did and why: pass context as keyword fields, e.g.
``log.info("build submitted", build_id=b, reason="all inputs present")``.

Two set-ups, decided here so that no caller formats a log line itself:

- :func:`configure` (the default, what :func:`get_logger` installs on first use): JSON lines on stdout at INFO, in
  the shape Cloud Logging parses (``severity``, ``message``). The functions and the local services the CLI starts
  (each its own process, logging into ``STATE/logs/NAME.log``) keep it.
- :func:`cli_logging` (``obt``'s ``--log-format`` and ``-v``): stdout is the command's answer, so logs go to
  stderr, as text by default (gcloud and dbt do the same), at WARNING; ``-v`` INFO, ``-vv`` DEBUG.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TextIO

_SEVERITY = {
    logging.DEBUG: "DEBUG",
    logging.INFO: "INFO",
    logging.WARNING: "WARNING",
    logging.ERROR: "ERROR",
    logging.CRITICAL: "CRITICAL",
}

LOG_FORMATS = ("text", "json")
# -v steps: none, -v, -vv (and more) for the CLI.
_CLI_LEVELS = (logging.WARNING, logging.INFO, logging.DEBUG)
# The handlers this module installs carry this name, so that it replaces only its own.
_HANDLER_NAME = "obt"


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


def _text_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    # Quoted only when needed, so that ``key=value`` pairs stay easy to read and to split.
    return text if text and not any(c.isspace() or c in "\"'=" for c in text) else json.dumps(text)


class TextFormatter(logging.Formatter):
    """``12:00:00 WARNING obt.trigger.service: message key=value …`` (empty fields left out)."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        pairs = " ".join(f"{k}={_text_value(v)}" for k, v in fields.items() if v not in (None, "", [], {}, ()))
        clock = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        line = f"{clock} {record.levelname} {record.name}: {record.getMessage()}" + (f" {pairs}" if pairs else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted, not the one at set-up: rich's live display
    swaps it to print log lines above the table, and pytest swaps it per test."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:  # StreamHandler.__init__ assigns one; the property ignores it
        pass


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
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    _configured = True


def cli_level(verbosity: int) -> int:
    return _CLI_LEVELS[min(max(verbosity, 0), len(_CLI_LEVELS) - 1)]


@contextmanager
def cli_logging(log_format: str = "text", verbosity: int = 0) -> Iterator[None]:
    """Logs on stderr in ``log_format`` at the level ``verbosity`` asks for, while the block runs.

    It replaces the stdout handler of :func:`configure` (which stays marked as done, so a module imported inside
    the block does not bring it back) and leaves other handlers alone (pytest's ``caplog``). On exit the previous
    handlers and level come back: ``obt_tools.cli.main`` is also called in-process, by tests.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {LOG_FORMATS}, got {log_format!r}")
    configure()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    handler = _CurrentStderr()
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.handlers[:] = [h for h in saved_handlers if h.get_name() != _HANDLER_NAME] + [handler]
    root.setLevel(cli_level(verbosity))
    try:
        yield
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def get_logger(name: str) -> StructuredLogger:
    configure()
    return StructuredLogger(name)
