"""The half-hour promise: when it is due and which outcome an order earns (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum

# The objective: 95% of orders delivered within the promise.
OBJECTIVE = 0.95


class Outcome(StrEnum):
    ON_TIME = "on_time"
    LATE = "late"
    CANCELLED = "cancelled"
    FAILED = "failed"


def promise_for(placed_at: datetime, *, sla_minutes: float, extension_minutes: int = 0) -> datetime:
    """The half-hour promise, lengthened by a zone's extension (whole minutes) when it has one."""
    return placed_at + timedelta(minutes=sla_minutes + extension_minutes)


def outcome_when_delivered(delivered_at: datetime, promised_by: datetime) -> Outcome:
    return Outcome.ON_TIME if delivered_at <= promised_by else Outcome.LATE


def outcome_when_closed(closed: Outcome, at: datetime, promised_by: datetime) -> Outcome:
    """Cancelled or failed before the promise keep that outcome; after it, the order was late."""
    return closed if at <= promised_by else Outcome.LATE


def is_overdue(promised_by: datetime, now: datetime) -> bool:
    return now > promised_by


def counts_against_sli(outcome: Outcome) -> bool:
    """SLI = on_time / (on_time + late + failed): cancellations are neither good nor bad."""
    return outcome is not Outcome.CANCELLED


def sli(outcomes: Mapping[str, int]) -> float | None:
    """on_time / (on_time + late + failed) of outcome counts (keyed by ``Outcome`` or its value);
    None when no order is resolved (0/0)."""
    counted = sum(n for o, n in outcomes.items() if counts_against_sli(Outcome(o)))
    return outcomes.get(Outcome.ON_TIME, 0) / counted if counted else None

