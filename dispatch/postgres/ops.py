"""PostgreSQL adapter for the operators' summary: backlog, couriers, outcomes, orders at risk, and
what operators have set (held orders, store statuses, zone modes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from dispatch.orders.lifecycle import IN_DISPATCH, OrderStatus, values

_AT_RISK = (
    "SELECT order_id, zone, status, promised_by, predicted_delivery_at FROM orders"
    " WHERE status = ANY($3::text[]) AND (predicted_delivery_at > promised_by OR promised_by < $1)"
    " ORDER BY promised_by, order_id LIMIT $2"
)
# outcomes settled in the last 30 minutes, by zone: the share an operator steers by
_RECENT = (
    "SELECT zone, count(*) FILTER (WHERE outcome = 'on_time') AS on_time, count(*) AS resolved FROM orders"
    " WHERE outcome IN ('on_time', 'late', 'failed') AND outcome_at > $1::timestamptz - interval '30 minutes'"
    " AND outcome_at <= $1 GROUP BY zone"
)
_HELD = (
    "SELECT o.order_id, o.zone, o.held_until AS until, o.promised_by,"
    " (SELECT e.reason FROM order_events e WHERE e.order_id = o.order_id AND e.type = 'order.held'"
    "  ORDER BY e.sequence DESC LIMIT 1) AS reason"
    " FROM orders o WHERE o.status = $1 ORDER BY o.order_id"
)
_STORES = (
    "SELECT store_id, zone, status, extra_pick_minutes, status_until AS until, status_reason AS reason"
    " FROM stores WHERE status <> 'online' ORDER BY store_id"
)
_MODES = (
    "SELECT zone, reason, radius_factor, promise_extension_minutes, closed,"
    " closed_area IS NOT NULL AS has_closed_area, on_overload, until FROM zone_modes ORDER BY zone"
)


def _jsonable(row: asyncpg.Record) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in dict(row).items()}


class PostgresOpsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def summary(self, *, now: datetime, at_risk_limit: int = 50) -> dict:
        async with self._pool.acquire() as conn:
            zones = await self._zones(conn, now)
            at_risk = await conn.fetch(_AT_RISK, now, at_risk_limit, values(IN_DISPATCH))
            failures = await conn.fetch(
                "SELECT failure_reason, count(*) AS n FROM orders WHERE status = $1 GROUP BY 1",
                OrderStatus.FAILED.value,
            )
            held = await conn.fetch(_HELD, OrderStatus.HELD.value)
            stores = await conn.fetch(_STORES)
            modes = await conn.fetch(_MODES)
        backlog = sum(n for z in zones.values() for s, n in z["orders"].items() if s in IN_DISPATCH)
        return {
            "at": now.isoformat(),
            "backlog": backlog,
            "zones": zones,
            "failure_reasons": {r["failure_reason"] or "unknown": r["n"] for r in failures},
            "at_risk": [_jsonable(r) for r in at_risk],
            "held": [_jsonable(r) for r in held],
            "store_statuses": [_jsonable(r) for r in stores],
            "zone_modes": [_jsonable(r) for r in modes],
        }

    @staticmethod
    async def _zones(conn: asyncpg.Connection, now: datetime) -> dict[str, dict]:
        """Orders by status, outcomes, couriers by state and the last 30 minutes' on-time share."""
        zones: dict[str, dict] = {}

        def zone(name: str) -> dict:
            return zones.setdefault(name, {"orders": {}, "outcomes": {}, "couriers": {}})

        for r in await conn.fetch("SELECT zone, status, count(*) AS n FROM orders GROUP BY zone, status"):
            zone(r["zone"])["orders"][r["status"]] = r["n"]
        for r in await conn.fetch(
            "SELECT zone, outcome, count(*) AS n FROM orders WHERE outcome IS NOT NULL GROUP BY zone, outcome"
        ):
            zone(r["zone"])["outcomes"][r["outcome"]] = r["n"]
        for r in await conn.fetch(
            "SELECT zone, CASE WHEN NOT on_shift THEN 'off' WHEN route_id IS NULL THEN 'idle'"
            " ELSE 'busy' END AS state, count(*) AS n FROM couriers GROUP BY 1, 2"
        ):
            zone(r["zone"])["couriers"][r["state"]] = r["n"]
        for r in await conn.fetch(_RECENT, now):
            zone(r["zone"])["on_time_share_30m"] = round(r["on_time"] / r["resolved"], 4)
        return zones
