"""PostgreSQL adapter for the dispatch loop: read the open world, write a round's decisions."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from dispatch.couriers.model import CourierRow, OpenOrderRow, RouteCommit
from dispatch.orders.events import SYSTEM
from dispatch.orders.lifecycle import IN_DISPATCH, OrderStatus, Step, sources, target, values
from dispatch.postgres.order_events import append_events
from dispatch.postgres.orders import release_reservations

UNSERVED = "no courier could take the order"
ETA_MOVE = timedelta(seconds=60)  # a prediction that moves less is not announced
ETA_QUIET = timedelta(seconds=30)  # at most one announcement per order in this time


class PostgresDispatchState:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def open_orders(self, zones: Sequence[str]) -> list[OpenOrderRow]:
        rows = await self._pool.fetch(
            "SELECT order_id, store_id, zone, status, drop_node, placed_at, ready_at, packed_at,"
            " promised_by, predicted_delivery_at, courier_id, route_id, pinned_courier_id FROM orders"
            " WHERE status = ANY($2::text[]) AND zone = ANY($1::text[])",
            list(zones),
            values(IN_DISPATCH),
        )
        return [OpenOrderRow(**dict(r)) for r in rows]

    async def recent_demand(self, zones: Sequence[str], *, since: datetime) -> dict[str, int]:
        """Orders placed per store since ``since`` (prepositioning sends idle couriers there)."""
        rows = await self._pool.fetch(
            "SELECT store_id, count(*) AS n FROM orders WHERE zone = ANY($1::text[]) AND placed_at >= $2"
            " GROUP BY store_id",
            list(zones),
            since,
        )
        return {r["store_id"]: r["n"] for r in rows}

    async def set_repositions(self, idle: Sequence[str], targets: dict[str, int]) -> None:
        """Each idle courier's waiting place (a road node), or none; busy couriers are left alone."""
        if not idle:
            return
        ids = list(idle)
        await self._pool.execute(
            "UPDATE couriers c SET reposition_node = t.node"
            " FROM unnest($1::text[], $2::integer[]) AS t(courier_id, node)"
            " WHERE c.courier_id = t.courier_id AND c.route_id IS NULL"
            " AND c.reposition_node IS DISTINCT FROM t.node",
            ids,
            [targets.get(c) for c in ids],
        )

    async def stores_signature(self) -> tuple[int, object]:
        """Changes whenever a store is registered or updated, by any process."""
        row = await self._pool.fetchrow("SELECT count(*) AS n, max(updated_at) AS at FROM stores")
        return row["n"], row["at"]

    async def couriers_zones(self) -> list[str]:
        return [r["zone"] for r in await self._pool.fetch("SELECT DISTINCT zone FROM couriers")]

    async def couriers(self, zones: Sequence[str]) -> list[CourierRow]:
        rows = await self._pool.fetch(
            "SELECT c.courier_id, c.zone, c.capacity, c.on_shift, c.shift_ends_at, c.lat, c.lon,"
            " c.position_at, r.route_id, (r.plan->>'free_at')::double precision AS free_at_s,"
            " (r.plan->>'end_node')::integer AS end_node, d.closed_at AS last_handover_at"
            " FROM couriers c LEFT JOIN routes r ON r.courier_id = c.courier_id AND r.status = 'active'"
            " LEFT JOIN LATERAL (SELECT closed_at, status FROM routes WHERE courier_id = c.courier_id"
            "   AND status <> 'active' ORDER BY route_id DESC LIMIT 1) d ON d.status = 'done'"
            " WHERE c.zone = ANY($1::text[])",
            list(zones),
        )
        from datetime import UTC

        out = []
        for r in rows:
            free_at = datetime.fromtimestamp(r["free_at_s"], UTC) if r["free_at_s"] is not None else None
            out.append(
                CourierRow(
                    courier_id=r["courier_id"],
                    zone=r["zone"],
                    capacity=r["capacity"],
                    on_shift=r["on_shift"],
                    shift_ends_at=r["shift_ends_at"],
                    lat=r["lat"],
                    lon=r["lon"],
                    position_at=r["position_at"],
                    route_id=r["route_id"],
                    route_free_at=free_at,
                    route_end_node=r["end_node"],
                    last_handover_at=r["last_handover_at"],
                )
            )
        return out

    async def commit_route(self, route: RouteCommit, *, now: datetime) -> int | None:
        """Give a courier a route, or nothing: the courier is claimed with a conditional write
        and every order must still be waiting, so two rounds or processes never double-book."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                route_id = await self._claim_courier(conn, route, now)
                if route_id is not None:
                    await self._take_orders(conn, route, route_id, now)
                return route_id
        except _Abort:  # a lost claim rolled the whole transaction back
            return None

    @staticmethod
    async def _claim_courier(conn: asyncpg.Connection, route: RouteCommit, now: datetime) -> int | None:
        """The route row and the courier's claim on it; None when the courier already has one."""
        route_id = await conn.fetchval(
            "INSERT INTO routes (courier_id, store_id, zone, status, created_at, depart_at,"
            " arrive_store_at, pickup_at, plan)"
            " SELECT $1, $2, $3, 'active', $4, $5, $6, $7, $8::jsonb"
            " WHERE NOT EXISTS (SELECT 1 FROM routes WHERE courier_id = $1 AND status = 'active')"
            " ON CONFLICT DO NOTHING RETURNING route_id",
            route.courier_id,
            route.store_id,
            route.zone,
            now,
            route.depart_at,
            route.arrive_store_at,
            route.pickup_at,
            json.dumps(route.plan),
        )
        if route_id is None:
            return None
        claimed = await conn.fetchval(
            "UPDATE couriers SET route_id = $2, reposition_node = NULL"
            " WHERE courier_id = $1 AND route_id IS NULL AND on_shift RETURNING courier_id",
            route.courier_id,
            route_id,
        )
        if claimed is None:
            raise _Abort
        return route_id

    @staticmethod
    async def _take_orders(
        conn: asyncpg.Connection, route: RouteCommit, route_id: int, now: datetime
    ) -> None:
        """Every order of the route, still waiting (and not pinned to another courier), or none."""
        taken = await conn.fetch(
            "UPDATE orders o SET status = $6, courier_id = $2, route_id = $3, predicted_delivery_at = p.at"
            " FROM unnest($1::text[], $4::timestamptz[]) AS p(order_id, at)"
            " WHERE o.order_id = p.order_id AND o.status = ANY($7::text[]) AND o.store_id = $5"
            " AND (o.pinned_courier_id IS NULL OR o.pinned_courier_id = $2) RETURNING o.order_id",
            list(route.order_ids),
            route.courier_id,
            route_id,
            list(route.predicted),
            route.store_id,
            target(Step.ASSIGN),
            sources(Step.ASSIGN),
        )
        if len(taken) != len(route.order_ids):
            raise _Abort
        await append_events(
            conn,
            Step.ASSIGN,
            list(route.order_ids),
            at=now,
            actor=SYSTEM,
            data=[
                {
                    "courier_id": route.courier_id,
                    "route_id": route_id,
                    "predicted_delivery_at": at.isoformat(),
                }
                for at in route.predicted
            ],
        )

    async def update_predictions(
        self, order_ids: Sequence[str], predicted: Sequence[datetime], *, now: datetime
    ) -> int:
        """Store the round's predictions; announce a move of a minute or more (``order.eta_updated``),
        at most once per order per ``ETA_QUIET``. Returns how many were announced."""
        if not order_ids:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE orders o SET predicted_delivery_at = p.at,"
                " eta_announced = CASE WHEN p.announce THEN p.at ELSE o.eta_announced END,"
                " eta_announced_at = CASE WHEN p.announce THEN $3 ELSE o.eta_announced_at END"
                " FROM (SELECT q.order_id, q.at,"
                "        (abs(extract(epoch FROM q.at - coalesce(c.eta_announced, c.predicted_delivery_at)))"
                "           >= $5 AND (c.eta_announced_at IS NULL"
                "                      OR c.eta_announced_at <= $3::timestamptz - $6::interval)) AS announce"
                "       FROM unnest($1::text[], $2::timestamptz[]) AS q(order_id, at)"
                "       JOIN orders c ON c.order_id = q.order_id) AS p"
                " WHERE o.order_id = p.order_id AND o.status = ANY($4::text[])"
                " AND o.predicted_delivery_at IS DISTINCT FROM p.at"
                " RETURNING o.order_id, p.at, p.announce",
                list(order_ids),
                list(predicted),
                now,
                sources(Step.UPDATE_ETA),
                ETA_MOVE.total_seconds(),
                ETA_QUIET,
            )
            moved = sorted((r for r in rows if r["announce"]), key=lambda r: r["order_id"])
            await append_events(
                conn,
                Step.UPDATE_ETA,
                [r["order_id"] for r in moved],
                at=now,
                actor=SYSTEM,
                data=[{"predicted_delivery_at": r["at"].isoformat()} for r in moved],
            )
        return len(moved)

    async def sweep_late(self, *, now: datetime) -> list[str]:
        """Count every open order whose promise has passed as late, once (zones returned).

        An order is open while any of its legs is: judged on its first leg's row, never per leg.
        """
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE orders o SET outcome = 'late', outcome_at = $1"
                " WHERE o.leg_of IS NULL AND o.outcome IS NULL AND o.promised_by < $1"
                " AND (o.status = ANY($2::text[]) OR EXISTS (SELECT 1 FROM orders l"
                "      WHERE l.leg_of = o.order_id AND l.status = ANY($2::text[])))"
                " RETURNING o.order_id, o.zone, o.promised_by",
                now,
                sources(Step.MARK_LATE),
            )
            late = sorted(rows, key=lambda r: r["order_id"])
            await append_events(
                conn,
                Step.MARK_LATE,
                [r["order_id"] for r in late],
                at=now,
                actor=SYSTEM,
                data=[{"promised_by": r["promised_by"].isoformat()} for r in late],
            )
        return [r["zone"] for r in late]

    async def fail_unserved(self, *, now: datetime, placed_before: datetime) -> list[tuple[str, str | None]]:
        """Orders nobody picked up for hours end ``failed`` and give their stock back."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT order_id, zone, outcome, promised_by, leg_of FROM orders"
                " WHERE status = $2 AND placed_at < $1 ORDER BY leg_no DESC, order_id FOR UPDATE SKIP LOCKED",
                placed_before,
                OrderStatus.RESERVED.value,
            )
            if not rows:
                return []
            ids = [r["order_id"] for r in rows]
            await release_reservations(conn, ids)
            await conn.execute(
                "UPDATE orders SET status = $3, closed_at = $2,"
                " failure_reason = $5,"
                " outcome = CASE WHEN leg_of IS NOT NULL THEN outcome"
                "  ELSE coalesce(outcome, CASE WHEN $2 <= promised_by THEN 'failed' ELSE 'late' END) END,"
                " outcome_at = CASE WHEN leg_of IS NOT NULL THEN outcome_at ELSE coalesce(outcome_at, $2) END"
                " WHERE order_id = ANY($1::text[])"
                " AND status = ANY($4::text[])",
                ids,
                now,
                target(Step.FAIL),
                sources(Step.FAIL),
                UNSERVED,
            )
            await append_events(conn, Step.FAIL, ids, at=now, actor=SYSTEM, reason=UNSERVED)
        return [
            (
                r["zone"],
                None if r["outcome"] is not None else ("failed" if now <= r["promised_by"] else "late"),
            )
            for r in rows
            if r["leg_of"] is None  # a leg is not an order: its order is judged once
        ]


class _Abort(Exception):
    """Roll back a commit attempt that lost a race (caught by the caller of the transaction)."""
