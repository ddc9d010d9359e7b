"""Webhooks as values: endpoints, deliveries, the retry schedule and what one answer decides."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dispatch.orders.events import OrderEvent
from dispatch.orders.model import Order


class WebhookState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # the receiver answered 410 Gone; nothing more is sent


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # every attempt of its schedule failed (or 410): listed, retryable by hand


class Result(StrEnum):
    """The ``result`` label of ``flashdispatch_webhook_deliveries_total``: one per attempt."""

    DELIVERED = "delivered"  # 2xx
    RETRY = "retry"  # failed, another attempt is scheduled
    FAILED = "failed"  # failed, the schedule is used up
    GONE = "gone"  # 410: the endpoint is disabled


# Standard Webhooks' schedule (DESIGN.md 13): the first attempt at once, then these waits.
RETRY_DELAYS_S = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_RETRY_AFTER_S = 36000.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    webhook_id: str
    url: str
    event_types: tuple[str, ...] | None  # None: every type
    secret: str
    state: WebhookState
    created_at: datetime
    disabled_at: datetime | None = None
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: int
    webhook_id: str
    event_id: int
    order_id: str
    sequence: int
    event_type: str
    occurred_at: datetime
    status: DeliveryStatus
    attempts: int
    claims: int
    next_attempt_at: datetime
    created_at: datetime
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this relay holds until its lease ends, with what it needs to send it."""

    delivery: Delivery
    event: OrderEvent
    order: Order | None  # None only if the order row has gone (it never is deleted today)


@dataclass(frozen=True, slots=True)
class SendResult:
    """What one HTTP attempt got: a status, or an error (timeout, refused address, connection)."""

    status: int | None
    retry_after_s: float | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class RelayPolicy:
    """The relay's tuning (FLASHDISPATCH_WEBHOOK_* variables)."""

    timeout_s: float = 10.0  # per attempt
    concurrency_per_endpoint: int = 32  # attempts in flight per endpoint and relay process
    poll_interval_s: float = 0.25
    fanout_page: int = 1000
    retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S
    jitter: float = 0.1  # each wait is stretched or shrunk by up to this share
    lease_margin_s: float = 5.0  # a claim is held for timeout + margin, then another relay may retry

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise ValueError("FLASHDISPATCH_WEBHOOK_TIMEOUT_S must be positive")
        if self.concurrency_per_endpoint < 1:
            raise ValueError("FLASHDISPATCH_WEBHOOK_CONCURRENCY must be at least 1")
        if self.poll_interval_s <= 0:
            raise ValueError("FLASHDISPATCH_WEBHOOK_POLL_S must be positive")

    @property
    def max_attempts(self) -> int:
        return 1 + len(self.retry_delays_s)

    @property
    def lease_s(self) -> float:
        return self.timeout_s + self.lease_margin_s


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's outcome, to be written: the delivery as claimed, what came back, what next."""

    delivery: Delivery
    result: Result
    at: datetime
    answer: SendResult
    next_attempt_at: datetime | None = None  # for RETRY


@dataclass(frozen=True, slots=True)
class Decision:
    result: Result
    next_attempt_at: datetime | None = None  # for RETRY


def decide(
    answer: SendResult, *, attempts: int, now: datetime, policy: RelayPolicy, rng: random.Random
) -> Decision:
    """What an answer means for a delivery that has now had ``attempts`` attempts."""
    if answer.ok:
        return Decision(Result.DELIVERED)
    if answer.status == 410:
        return Decision(Result.GONE)
    if attempts >= policy.max_attempts:
        return Decision(Result.FAILED)
    if answer.status in (429, 503) and answer.retry_after_s is not None:
        wait_s = min(max(answer.retry_after_s, 0.0), MAX_RETRY_AFTER_S)  # the receiver says when
    else:
        base = policy.retry_delays_s[attempts - 1]
        wait_s = base * (1.0 + rng.uniform(-policy.jitter, policy.jitter))
    return Decision(Result.RETRY, now + timedelta(seconds=wait_s))
