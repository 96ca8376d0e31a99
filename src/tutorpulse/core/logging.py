"""Process logging: human-readable lines or JSON lines, each tagged with the request id.

``configure_logging`` is idempotent: it installs one TutorPulse handler on the
root logger and leaves other handlers (a test runner's, for instance) alone.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("tutorpulse_request_id", default=None)

# Attributes every LogRecord has; anything else passed via ``extra=`` is a field.
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None)).keys()
) | {"message", "asctime", "request_id", "color_message", "rid"}


class RequestIdFilter(logging.Filter):
    """Copies the current request id (if any) onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            payload["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s%(rid)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        record.rid = f" [{request_id}]" if request_id else ""
        return super().format(record)


class _TutorPulseHandler(logging.StreamHandler):  # type: ignore[type-arg,unused-ignore]
    """Marker class so configure_logging can find (and replace) its own handler."""


def configure_logging(*, level: str = "INFO", json_lines: bool = False) -> None:
    """Send log records to stderr as text or JSON lines; safe to call repeatedly."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _TutorPulseHandler):
            root.removeHandler(handler)
    handler = _TutorPulseHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic announces its context on every revision check (the health endpoint).
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    # The HTTP middleware writes one access line per request; uvicorn's would repeat it.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers.clear()
        lg.propagate = True
