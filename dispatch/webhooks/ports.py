"""The webhook service layer's ports: storage, the outbound HTTP sender, DNS, and metrics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from dispatch.webhooks.model import Attempt, Claimed, Delivery, DeliveryStatus, Endpoint, Result, SendResult


@dataclass(frozen=True, slots=True)
class OutboxStats:
    oldest_pending_at: datetime | None  # occurred_at of the oldest undelivered event (active endpoints)
    active: int
    disabled: int


class WebhookStore(Protocol):
    """Endpoints and the delivery outbox (PostgreSQL in the service, a dict in unit tests)."""

    async def create_endpoint(self, endpoint: Endpoint) -> None: ...

    async def endpoints(self) -> list[Endpoint]: ...

    async def endpoint(self, webhook_id: str) -> Endpoint | None: ...

    async def delete_endpoint(self, webhook_id: str) -> bool: ...

    async def disable_endpoint(self, webhook_id: str, *, now: datetime, reason: str) -> None: ...

    async def fan_out(self, *, now: datetime, page: int) -> int:
        """Copy the events that became visible since the last call into one delivery per matching
        active endpoint, in visibility order; returns the number of events read. Several relays
        may call it at once: one works, the others return 0."""
        ...

    async def claim(
        self, webhook_id: str, *, now: datetime, limit: int, lease_until: datetime
    ) -> list[Claimed]:
        """Up to ``limit`` due pending deliveries of the endpoint whose order has no earlier event
        still pending (or not yet fanned out); each is held until ``lease_until``."""
        ...

    async def record(self, attempts: Sequence[Attempt]) -> None:
        """Write attempts' outcomes in one go; a failure is not written over a newer claim."""
        ...

    async def deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]: ...

    async def retry(self, webhook_id: str, delivery_id: int, *, now: datetime) -> Delivery | None:
        """A failed delivery back to pending with a fresh schedule; None if it is not failed."""
        ...

    async def delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None: ...

    async def stats(self) -> OutboxStats: ...


class Sender(Protocol):
    """Posts one signed body; never raises for what the receiver or the network did."""

    async def post(
        self, url: str, *, headers: dict[str, str], body: bytes, timeout_s: float
    ) -> SendResult: ...


class Resolver(Protocol):
    """Host name → IP addresses (DNS), for the SSRF guard."""

    async def addresses(self, host: str, port: int) -> list[str]: ...


class RelayObserver(Protocol):
    """Metrics the relay reports (``dispatch.metrics.Metrics`` implements it)."""

    def webhook_delivery(self, result: Result) -> None: ...

    def webhook_outbox_lag(self, seconds: float) -> None: ...

    def webhook_endpoints(self, *, active: int, disabled: int) -> None: ...


class WallClock(Protocol):
    """Unix seconds for ``webhook-timestamp``: receivers compare it with their own clock."""

    def __call__(self) -> float: ...
