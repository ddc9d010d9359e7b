"""In-memory fakes of the webhook ports: the relay's logic without PostgreSQL or HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from datetime import datetime

from dispatch.orders.events import SYSTEM, OrderEvent
from dispatch.webhooks.model import (
    Claimed,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Result,
    SendResult,
    WebhookState,
)
from dispatch.webhooks.ports import OutboxStats


class FakeStore:
    """The outbox with the PostgreSQL adapter's rules: fan-out in log order, claims skip an order
    whose earlier event is pending, results fenced by the claim count."""

    def __init__(self) -> None:
        self.log: list[OrderEvent] = []
        self.cursor = 0
        self.hooks: dict[str, Endpoint] = {}
        self.rows: dict[int, Delivery] = {}

    def add_event(self, order_id: str, at: datetime) -> OrderEvent:
        sequence = 1 + sum(1 for e in self.log if e.order_id == order_id)
        event = OrderEvent(len(self.log) + 1, order_id, sequence, "order.eta_updated", at, SYSTEM)
        self.log.append(event)
        return event

    async def create_endpoint(self, endpoint: Endpoint) -> None:
        self.hooks[endpoint.webhook_id] = endpoint

    async def endpoints(self) -> list[Endpoint]:
        return list(self.hooks.values())

    async def endpoint(self, webhook_id: str) -> Endpoint | None:
        return self.hooks.get(webhook_id)

    async def delete_endpoint(self, webhook_id: str) -> bool:
        self.rows = {k: d for k, d in self.rows.items() if d.webhook_id != webhook_id}
        return self.hooks.pop(webhook_id, None) is not None

    async def disable_endpoint(self, webhook_id: str, *, now: datetime, reason: str) -> None:
        hook = self.hooks[webhook_id]
        self.hooks[webhook_id] = dataclasses.replace(hook, state=WebhookState.DISABLED, disabled_at=now,
                                                     disabled_reason=reason)

    async def fan_out(self, *, now: datetime, page: int) -> int:
        events = self.log[self.cursor:self.cursor + page]
        for event in events:
            for hook in self.hooks.values():
                if hook.state is WebhookState.ACTIVE and (hook.event_types is None or event.type in hook.event_types):
                    delivery_id = len(self.rows) + 1
                    self.rows[delivery_id] = Delivery(
                        delivery_id, hook.webhook_id, event.event_id, event.order_id, event.sequence, event.type,
                        event.occurred_at, DeliveryStatus.PENDING, 0, 0, now, now)
        self.cursor += len(events)
        return len(events)

    async def claim(self, webhook_id: str, *, now: datetime, limit: int, lease_until: datetime) -> list[Claimed]:
        pending = [d for d in self.rows.values() if d.webhook_id == webhook_id and d.status is DeliveryStatus.PENDING]
        due = [d for d in pending if d.next_attempt_at <= now
               and not any(p.order_id == d.order_id and p.sequence < d.sequence for p in pending)]
        due.sort(key=lambda d: (d.next_attempt_at, d.delivery_id))
        claimed = []
        for d in due[:limit]:
            d = self.rows[d.delivery_id] = dataclasses.replace(
                d, next_attempt_at=lease_until, attempts=d.attempts + 1, claims=d.claims + 1, last_attempt_at=now)
            claimed.append(Claimed(d, self.log[d.event_id - 1], None))
        return claimed

    async def record(self, attempts) -> None:
        for a in attempts:
            current = self.rows[a.delivery.delivery_id]
            if current.status is not DeliveryStatus.PENDING:
                continue
            if a.result is Result.DELIVERED:
                self.rows[current.delivery_id] = dataclasses.replace(
                    current, status=DeliveryStatus.DELIVERED, delivered_at=a.at, last_status=a.answer.status)
            elif current.claims == a.delivery.claims:
                self.rows[current.delivery_id] = dataclasses.replace(
                    current, status=DeliveryStatus.PENDING if a.result is Result.RETRY else DeliveryStatus.FAILED,
                    next_attempt_at=a.next_attempt_at or current.next_attempt_at, last_status=a.answer.status,
                    last_error=a.answer.error)

    async def deliveries(self, webhook_id: str, *, status: DeliveryStatus | None, limit: int) -> list[Delivery]:
        found = [d for d in self.rows.values() if d.webhook_id == webhook_id and (status is None or d.status is status)]
        return sorted(found, key=lambda d: -d.delivery_id)[:limit]

    async def delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        d = self.rows.get(delivery_id)
        return d if d is not None and d.webhook_id == webhook_id else None

    async def retry(self, webhook_id: str, delivery_id: int, *, now: datetime) -> Delivery | None:
        d = await self.delivery(webhook_id, delivery_id)
        if d is None or d.status is not DeliveryStatus.FAILED:
            return None
        d = self.rows[delivery_id] = dataclasses.replace(d, status=DeliveryStatus.PENDING, attempts=0,
                                                         next_attempt_at=now)
        return d

    async def stats(self) -> OutboxStats:
        active = {k for k, h in self.hooks.items() if h.state is WebhookState.ACTIVE}
        pending = [d.occurred_at for d in self.rows.values()
                   if d.status is DeliveryStatus.PENDING and d.webhook_id in active]
        return OutboxStats(min(pending, default=None), len(active), len(self.hooks) - len(active))


class FakeSender:
    """Answers by URL with a scripted function; records every post."""

    def __init__(self, answers: dict[str, Callable[[dict[str, str], bytes], Awaitable[SendResult]]]) -> None:
        self.answers = answers
        self.posts: list[tuple[str, dict[str, str], bytes]] = []

    async def post(self, url: str, *, headers: dict[str, str], body: bytes, timeout_s: float) -> SendResult:
        self.posts.append((url, headers, body))
        try:
            return await asyncio.wait_for(self.answers[url](headers, body), timeout_s)
        except TimeoutError:
            return SendResult(None, error="timeout")


class FakeObserver:
    def __init__(self) -> None:
        self.results: list[Result] = []
        self.lag_s = -1.0
        self.states = (0, 0)

    def webhook_delivery(self, result: Result) -> None:
        self.results.append(result)

    def webhook_outbox_lag(self, seconds: float) -> None:
        self.lag_s = seconds

    def webhook_endpoints(self, *, active: int, disabled: int) -> None:
        self.states = (active, disabled)


class FakeResolver:
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    async def addresses(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]
