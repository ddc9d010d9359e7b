"""Operators' order actions: hold, release, reassign — each one transition with one audit event."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dispatch.orders.events import Actor
from dispatch.orders.model import Order


class OrderActionRecords(Protocol):
    async def hold(
        self, order_id: str, *, until: datetime | None, now: datetime, actor: Actor, reason: str
    ) -> tuple[Order, bool]: ...

    async def release(
        self, order_id: str, *, now: datetime, actor: Actor, reason: str
    ) -> tuple[Order, bool]: ...

    async def reassign(
        self, order_id: str, *, courier_id: str | None, now: datetime, actor: Actor, reason: str
    ) -> tuple[Order, bool]: ...


class ActionObserver(Protocol):
    def operator_action(self, action: str) -> None: ...


class OrderActions:
    """Each call is idempotent for the same body: repeating it changes nothing and counts nothing."""

    def __init__(self, *, records: OrderActionRecords, metrics: ActionObserver) -> None:
        self.records = records
        self.metrics = metrics

    async def hold(
        self, order_id: str, *, until: datetime | None, now: datetime, actor: Actor, reason: str
    ) -> Order:
        order, changed = await self.records.hold(order_id, until=until, now=now, actor=actor, reason=reason)
        self._count("hold", changed)
        return order

    async def release(self, order_id: str, *, now: datetime, actor: Actor, reason: str) -> Order:
        order, changed = await self.records.release(order_id, now=now, actor=actor, reason=reason)
        self._count("release", changed)
        return order

    async def reassign(
        self, order_id: str, *, courier_id: str | None, now: datetime, actor: Actor, reason: str
    ) -> Order:
        order, changed = await self.records.reassign(
            order_id, courier_id=courier_id, now=now, actor=actor, reason=reason
        )
        self._count("reassign", changed)
        return order

    def _count(self, action: str, changed: bool) -> None:
        if changed:
            self.metrics.operator_action(action)
