"""PostgreSQL adapter for the operators' order actions: hold, release, reassign (one transition
and one event each, under the order's row lock, so concurrent actions and rounds serialize)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from dispatch.errors import CourierUnavailable, InvalidTransition, NotFound
from dispatch.orders.events import SYSTEM, Actor
from dispatch.orders.lifecycle import (
    ON_ROUTE,
    OrderStatus,
    Step,
    check_step,
    event_of,
    sources,
    target,
    values,
)
from dispatch.orders.model import Order
from dispatch.postgres.order_events import append_events
from dispatch.postgres.orders import read_order
from dispatch.postgres.route_closing import close_route_if_empty


async def _lock(conn: asyncpg.Connection, order_id: str) -> asyncpg.Record:
    row = await conn.fetchrow(
        "SELECT status, held_until, route_id, courier_id, pinned_courier_id FROM orders"
        " WHERE order_id = $1 FOR UPDATE",
        order_id,
    )
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    return row


async def _last_event_type(conn: asyncpg.Connection, order_id: str) -> str | None:
    return await conn.fetchval(
        "SELECT type FROM order_events WHERE order_id = $1 ORDER BY sequence DESC LIMIT 1", order_id
    )


class PostgresOrderActions:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def hold(
        self, order_id: str, *, until: datetime | None, now: datetime, actor: Actor, reason: str
    ) -> tuple[Order, bool]:
        """Take the order out of dispatch (and off a route it was not yet picked up from)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await _lock(conn, order_id)
            if row["status"] == OrderStatus.HELD and row["held_until"] == until:
                return await read_order(conn, order_id), False  # the same hold again
            if row["status"] != OrderStatus.HELD:
                check_step(order_id, Step.HOLD, OrderStatus(row["status"]))
            await conn.execute(
                "UPDATE orders SET status = $2, held_until = $3, courier_id = NULL, route_id = NULL"
                " WHERE order_id = $1 AND status = ANY($4::text[])",
                order_id,
                target(Step.HOLD),
                until,
                [*sources(Step.HOLD), OrderStatus.HELD.value],
            )
            data = {"until": until.isoformat() if until else None, "left_courier_id": row["courier_id"]}
            await append_events(conn, Step.HOLD, [order_id], at=now, actor=actor, reason=reason, data=data)
            await close_route_if_empty(conn, row["route_id"], now, abandoned=True)
            return await read_order(conn, order_id), True

    async def release(self, order_id: str, *, now: datetime, actor: Actor, reason: str) -> tuple[Order, bool]:
        """Back to dispatch; releasing an order just released is harmless."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await _lock(conn, order_id)
            if row["status"] != OrderStatus.HELD:
                if await _last_event_type(conn, order_id) == event_of(Step.RELEASE):
                    return await read_order(conn, order_id), False
                raise InvalidTransition(f"order {order_id!r} is {row['status']}; it is not held")
            await self._release(conn, [order_id], now=now, actor=actor, reason=reason)
            return await read_order(conn, order_id), True

    @staticmethod
    async def _release(
        conn: asyncpg.Connection, order_ids: list[str], *, now: datetime, actor: Actor, reason: str
    ) -> list[str]:
        rows = await conn.fetch(
            "UPDATE orders SET status = $2, held_until = NULL WHERE order_id = ANY($1::text[])"
            " AND status = ANY($3::text[]) RETURNING order_id",
            order_ids,
            target(Step.RELEASE),
            sources(Step.RELEASE),
        )
        released = sorted(r["order_id"] for r in rows)
        await append_events(conn, Step.RELEASE, released, at=now, actor=actor, reason=reason)
        return released

    async def release_expired(self, *, now: datetime) -> list[str]:
        """Holds whose ``until`` has passed end by themselves (the service is the actor)."""
        async with self._pool.acquire() as conn, conn.transaction():
            ids = [
                r["order_id"]
                for r in await conn.fetch(
                    "SELECT order_id FROM orders WHERE status = $1 AND held_until <= $2"
                    " ORDER BY order_id FOR UPDATE SKIP LOCKED",
                    OrderStatus.HELD.value,
                    now,
                )
            ]
            if not ids:
                return []
            return await self._release(conn, ids, now=now, actor=SYSTEM, reason="the hold ended")

    async def reassign(
        self, order_id: str, *, courier_id: str | None, now: datetime, actor: Actor, reason: str
    ) -> tuple[Order, bool]:
        """Off its route; to ``courier_id`` in the next round, or back to the pool (None)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await _lock(conn, order_id)
            status = OrderStatus(row["status"])
            check_step(order_id, Step.REASSIGN, status)
            already = row["pinned_courier_id"] == courier_id and (
                status is OrderStatus.RESERVED or row["courier_id"] == courier_id
            )
            if already:
                return await read_order(conn, order_id), False
            if courier_id is not None:
                await self._check_courier(conn, courier_id)
            await conn.execute(
                "UPDATE orders SET status = $2, courier_id = NULL, route_id = NULL, pinned_courier_id = $3"
                " WHERE order_id = $1 AND status = ANY($4::text[])",
                order_id,
                target(Step.REASSIGN),
                courier_id,
                sources(Step.REASSIGN),
            )
            data = {"from_courier_id": row["courier_id"], "to_courier_id": courier_id}
            await append_events(
                conn, Step.REASSIGN, [order_id], at=now, actor=actor, reason=reason, data=data
            )
            await close_route_if_empty(conn, row["route_id"], now, abandoned=True)
            return await read_order(conn, order_id), True

    @staticmethod
    async def _check_courier(conn: asyncpg.Connection, courier_id: str) -> None:
        courier = await conn.fetchrow(
            "SELECT on_shift, capacity, (SELECT count(*) FROM orders o WHERE o.courier_id = c.courier_id"
            " AND o.status = ANY($2::text[])) AS carrying FROM couriers c WHERE courier_id = $1",
            courier_id,
            values(ON_ROUTE),
        )
        if courier is None:
            raise NotFound(f"no courier {courier_id!r}")
        if not courier["on_shift"]:
            raise CourierUnavailable(f"courier {courier_id!r} is off shift")
        if courier["carrying"] >= courier["capacity"]:
            raise CourierUnavailable(
                f"courier {courier_id!r} already carries {courier['carrying']}"
                f" of {courier['capacity']} orders"
            )
