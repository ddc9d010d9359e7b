"""How times appear in API bodies: ISO 8601 with the UTC offset, ``null`` when absent."""

from __future__ import annotations

from datetime import datetime


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
