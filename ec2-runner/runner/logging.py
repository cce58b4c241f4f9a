"""Structured JSON logs with the same fields as the API's powertools Logger.

Fields: level, location, message, timestamp, service, plus request_id / job_id /
project_id / kind while a job runs (bound with ``job_context``), so that one
request id joins the API's and the runner's lines.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

SERVICE = "autostack-runner"
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "autostack_log_context", default=None
)
# Attributes every LogRecord has; anything else passed in ``extra=`` is logged as a field.
_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname,
            "location": f"{record.funcName}:{record.lineno}",
            "message": record.getMessage(),
            "timestamp": _iso_millis(record.created),
            "service": SERVICE,
        }
        entry.update(_context.get() or {})
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
            entry["exception_name"] = record.exc_info[0].__name__ if record.exc_info[0] else None
        return json.dumps(entry, default=str)


def _iso_millis(epoch: float) -> str:
    # Powertools' own format ("2026-11-26 06:17:28,880+0000"), so API and runner lines sort alike.
    millis = int(epoch % 1 * 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(epoch)) + f",{millis:03d}+0000"


def configure(level: str = "INFO", stream: TextIO | None = None) -> logging.Logger:
    """Send the ``runner`` logger's records to ``stream`` (stderr) as JSON lines."""
    logger = logging.getLogger("runner")
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name if name.startswith("runner") else f"runner.{name}")


def current_fields() -> dict[str, Any]:
    """The fields bound by ``job_context`` in this thread/context."""
    return dict(_context.get() or {})


@contextmanager
def job_context(**fields: Any) -> Iterator[None]:
    """Bind fields (job_id, request_id, ...) to every log line inside the block."""
    merged = dict(_context.get() or {})
    merged.update({k: v for k, v in fields.items() if v is not None})
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)
