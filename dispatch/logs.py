"""Structured logs: one JSON object per line, with the request id and order id when there are."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
ORDER_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("order_id", default=None)
FIELDS = ("request_id", "order_id", "courier_id", "store_id", "zone", "method", "route", "status",
          "duration_ms")


def bind_order(order_id: str | None) -> None:
    """Name the order this request (or task) is about in every later log record."""
    if order_id is not None:
        ORDER_ID.set(order_id)


class ContextFilter(logging.Filter):
    """Copies the request id and order id of the current context onto every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        if getattr(record, "order_id", None) is None:
            record.order_id = ORDER_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in FIELDS:
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
