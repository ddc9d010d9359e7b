"""PostgreSQL adapter for couriers, their routes, and the courier-side order transitions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from dispatch.couriers.model import ActiveRoute, Courier, Delivery, RouteOrder
from dispatch.errors import InvalidTransition, NotFound
from dispatch.orders.events import SYSTEM, Actor
from dispatch.orders.lifecycle import (
    OPEN,
    ActorType,
    OrderStatus,
    Step,
    check_step,
    event_of,
    sources,
    target,
    values,
)
from dispatch.orders.sla import outcome_when_delivered
from dispatch.postgres.order_events import append_events
from dispatch.postgres.orders import close_order
from dispatch.postgres.route_closing import close_route_if_empty

_COURIER_COLUMNS = (
    "courier_id, name, zone, capacity, on_shift, shift_ends_at, lat, lon, position_at, route_id,"
    " reposition_node"
)


def _courier(row: asyncpg.Record) -> Courier:
    return Courier(**{k: row[k] for k in _COURIER_COLUMNS.split(", ")})


def _route(row: asyncpg.Record) -> ActiveRoute:
    return ActiveRoute(
        route_id=row["route_id"],
        courier_id=row["courier_id"],
        store_id=row["store_id"],
        zone=row["zone"],
        depart_at=row["depart_at"],
        pickup_at=row["pickup_at"],
        plan=json.loads(row["plan"]),
    )


class PostgresCourierRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert(
        self, courier_id: str, *, name: str, zone: str, capacity: int, now: datetime
    ) -> tuple[Courier, bool]:
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO couriers (courier_id, name, zone, capacity, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $5)
            ON CONFLICT (courier_id) DO UPDATE SET name = EXCLUDED.name, zone = EXCLUDED.zone,
                capacity = EXCLUDED.capacity, updated_at = EXCLUDED.updated_at
            RETURNING {_COURIER_COLUMNS}, (xmax = 0) AS created
            """,
            courier_id,
            name,
            zone,
            capacity,
            now,
        )
        return _courier(row), bool(row["created"])

    async def get(self, courier_id: str) -> Courier:
        row = await self._pool.fetchrow(
            f"SELECT {_COURIER_COLUMNS} FROM couriers WHERE courier_id = $1", courier_id
        )
        if row is None:
            raise NotFound(f"no courier {courier_id!r}")
        return _courier(row)

    async def set_shift(
        self, courier_id: str, *, on: bool, lat: float, lon: float, ends_at: datetime | None, now: datetime
    ) -> tuple[Courier, list[str]]:
        """Start or end a shift. Ending it hands the not-yet-picked-up orders back to dispatch."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE couriers SET on_shift = $2, shift_ends_at = $3, lat = $4, lon = $5,"
                " position_at = $6, updated_at = $6 WHERE courier_id = $1"
                f" RETURNING {_COURIER_COLUMNS}",
                courier_id,
                on,
                ends_at if on else None,
                lat,
                lon,
                now,
            )
            if row is None:
                raise NotFound(f"no courier {courier_id!r}")
            await conn.execute(
                "INSERT INTO courier_positions (courier_id, lat, lon, at) VALUES ($1, $2, $3, $4)",
                courier_id,
                lat,
                lon,
                now,
            )
            released: list[str] = []
            if not on:
                released = await self._release_unpicked(
                    conn, courier_id, now, actor=Actor(ActorType.COURIER, courier_id),
                    reason="courier went off shift",
                )
            return _courier(row), released

    async def add_positions(
        self, courier_id: str, positions: Sequence[tuple[float, float, datetime]]
    ) -> Courier:
        async with self._pool.acquire() as conn, conn.transaction():
            exists = await conn.fetchval(
                "SELECT 1 FROM couriers WHERE courier_id = $1 FOR UPDATE", courier_id
            )
            if exists is None:
                raise NotFound(f"no courier {courier_id!r}")
            await conn.copy_records_to_table(
                "courier_positions",
                records=[(courier_id, lat, lon, at) for lat, lon, at in positions],
                columns=["courier_id", "lat", "lon", "at"],
            )
            lat, lon, at = max(positions, key=lambda p: p[2])
            row = await conn.fetchrow(
                "UPDATE couriers SET lat = $2, lon = $3, position_at = $4"
                " WHERE courier_id = $1 AND (position_at IS NULL OR position_at <= $4)"
                f" RETURNING {_COURIER_COLUMNS}",
                courier_id,
                lat,
                lon,
                at,
            )
            if row is None:
                row = await conn.fetchrow(
                    f"SELECT {_COURIER_COLUMNS} FROM couriers WHERE courier_id = $1", courier_id
                )
            return _courier(row)

    async def active_route(self, courier_id: str) -> ActiveRoute | None:
        row = await self._pool.fetchrow(
            "SELECT * FROM routes WHERE courier_id = $1 AND status = 'active'", courier_id
        )
        return _route(row) if row else None

    async def route_orders(self, route_id: int) -> list[RouteOrder]:
        rows = await self._pool.fetch(
            "SELECT order_id, status, drop_node, drop_lat, drop_lon, promised_by FROM orders"
            " WHERE route_id = $1 ORDER BY order_id",
            route_id,
        )
        return [RouteOrder(**dict(r)) for r in rows]

    async def _release_unpicked(
        self, conn: asyncpg.Connection, courier_id: str, now: datetime, *, actor: Actor, reason: str
    ) -> list[str]:
        """Orders assigned to the courier but not picked up go back to the pool."""
        rows = await conn.fetch(
            "UPDATE orders SET status = $3, courier_id = NULL, route_id = NULL"
            " WHERE courier_id = $1 AND status = ANY($2::text[]) RETURNING order_id",
            courier_id,
            sources(Step.UNASSIGN),
            target(Step.UNASSIGN),
        )
        released = sorted(r["order_id"] for r in rows)
        await append_events(
            conn, Step.UNASSIGN, released, at=now, actor=actor, reason=reason, data={"courier_id": courier_id}
        )
        await self._close_route_if_empty(conn, courier_id, now, abandoned=True)
        return released

    @staticmethod
    async def _close_route_if_empty(
        conn: asyncpg.Connection, courier_id: str, now: datetime, *, abandoned: bool
    ) -> bool:
        """Close the courier's active route once it holds no open order; frees the courier."""
        route_id = await conn.fetchval(
            "SELECT route_id FROM routes WHERE courier_id = $1 AND status = 'active'", courier_id
        )
        return await close_route_if_empty(conn, route_id, now, abandoned=abandoned)

    async def release_silent(self, courier_ids: Sequence[str], *, now: datetime) -> list[str]:
        released: list[str] = []
        for courier_id in courier_ids:
            async with self._pool.acquire() as conn, conn.transaction():
                released += await self._release_unpicked(
                    conn, courier_id, now, actor=SYSTEM, reason="courier silent"
                )
        return released

    async def reject(self, courier_id: str, order_id: str, *, now: datetime) -> list[str]:
        """The courier rejects its task: every unpicked order of the route returns to dispatch."""
        async with self._pool.acquire() as conn, conn.transaction():
            status = await conn.fetchval(
                "SELECT status FROM orders WHERE order_id = $1 AND courier_id = $2 FOR UPDATE",
                order_id,
                courier_id,
            )
            if status is None:
                raise NotFound(f"order {order_id!r} is not assigned to courier {courier_id!r}")
            if status not in sources(Step.UNASSIGN):
                raise InvalidTransition(
                    f"order {order_id!r} is {status}; only an assigned task can be rejected"
                )
            return await self._release_unpicked(
                conn, courier_id, now, actor=Actor(ActorType.COURIER, courier_id),
                reason="courier rejected the task",
            )

    async def arrived_store(self, courier_id: str, order_id: str, *, now: datetime) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            leg = await conn.fetchrow(
                "SELECT status, coalesce(leg_of, order_id) AS of, leg_no FROM orders"
                " WHERE order_id = $1 AND courier_id = $2 FOR UPDATE",
                order_id,
                courier_id,
            )
            if leg is None:
                raise NotFound(f"order {order_id!r} is not assigned to courier {courier_id!r}")
            status = leg["status"]
            if status not in sources(Step.ARRIVE_STORE):
                raise InvalidTransition(f"order {order_id!r} is {status}; the courier is past the store")
            already = await conn.fetchval(
                "SELECT 1 FROM order_events WHERE order_id = $1 AND type = $2"
                " AND coalesce((data->>'leg')::int, 1) = $3",
                leg["of"],
                event_of(Step.ARRIVE_STORE).value,
                leg["leg_no"],
            )
            if not already:
                await append_events(
                    conn, Step.ARRIVE_STORE, [order_id], at=now, actor=Actor(ActorType.COURIER, courier_id)
                )

    async def picked_up(
        self, courier_id: str, order_id: str, *, now: datetime
    ) -> tuple[str, list[tuple[str, int]], bool]:
        """The reservation becomes a sale: on-hand and reserved drop together, in one statement.

        Returns (zone, lines, changed); a repeated pickup is harmless.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, zone, store_id FROM orders"
                " WHERE order_id = $1 AND courier_id = $2 FOR UPDATE",
                order_id,
                courier_id,
            )
            if row is None:
                raise NotFound(f"order {order_id!r} is not assigned to courier {courier_id!r}")
            lines = [
                (r["sku"], r["quantity"])
                for r in await conn.fetch(
                    "SELECT sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY sku", order_id
                )
            ]
            if row["status"] in (target(Step.PICK_UP), target(Step.DELIVER)):
                return row["zone"], lines, False  # a repeated pickup
            check_step(order_id, Step.PICK_UP, OrderStatus(row["status"]))
            await conn.execute(
                "UPDATE stock s SET on_hand = greatest(s.on_hand - l.quantity, 0),"
                " reserved = s.reserved - l.quantity"
                " FROM order_lines l WHERE l.order_id = $1 AND s.store_id = $2 AND s.sku = l.sku",
                order_id,
                row["store_id"],
            )
            await conn.execute(
                "UPDATE orders SET status = $3, picked_up_at = $2"
                " WHERE order_id = $1 AND status = ANY($4::text[])",
                order_id,
                now,
                target(Step.PICK_UP),
                sources(Step.PICK_UP),
            )
            await append_events(
                conn, Step.PICK_UP, [order_id], at=now, actor=Actor(ActorType.COURIER, courier_id)
            )
            return row["zone"], lines, True

    async def delivered(self, courier_id: str, order_id: str, *, now: datetime) -> Delivery:
        """Deliver a leg once. The order is judged when its last leg arrives (the outcome is set
        then, unless the sweeper already counted it late); an earlier leg is only recorded."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, coalesce(leg_of, order_id) AS of FROM orders"
                " WHERE order_id = $1 AND courier_id = $2 FOR UPDATE",
                order_id,
                courier_id,
            )
            if row is None:
                raise NotFound(f"order {order_id!r} is not assigned to courier {courier_id!r}")
            # the order's own row after the leg's: whether this leg is the last is read under it
            order = await conn.fetchrow(
                "SELECT zone, placed_at, promised_by, outcome,"
                " (response->>'predicted_delivery_at')::timestamptz AS predicted_at_intake FROM orders"
                " WHERE order_id = $1 FOR UPDATE",
                row["of"],
            )
            if row["status"] == target(Step.DELIVER):
                return Delivery(order["zone"], order["placed_at"], order["predicted_at_intake"], None, False)
            if row["status"] not in sources(Step.DELIVER):
                raise InvalidTransition(f"order {order_id!r} is {row['status']}; pick it up first")
            others_open = await conn.fetchval(
                "SELECT count(*) FROM orders WHERE coalesce(leg_of, order_id) = $1 AND order_id <> $2"
                " AND status = ANY($3::text[])",
                row["of"],
                order_id,
                values(OPEN),
            )
            step = Step.DELIVER_LEG if others_open else Step.DELIVER
            outcome = None
            if step is Step.DELIVER and order["outcome"] is None:
                outcome = outcome_when_delivered(now, order["promised_by"]).value
            await conn.execute(
                "UPDATE orders SET status = $3, delivered_at = $2"
                " WHERE order_id = $1 AND status = ANY($4::text[])",
                order_id,
                now,
                target(step),
                sources(step),
            )
            if step is Step.DELIVER:
                await close_order(conn, row["of"], now=now, outcome=outcome)
            await append_events(
                conn, step, [order_id], at=now, actor=Actor(ActorType.COURIER, courier_id),
                data={"outcome": outcome} if outcome else None,
            )
            await self._close_route_if_empty(conn, courier_id, now, abandoned=False)
            final = step is Step.DELIVER
            return Delivery(order["zone"], order["placed_at"], order["predicted_at_intake"], outcome, final)
