"""PostgreSQL adapter for the operators' summary: backlog, couriers, outcomes, orders at risk."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from dispatch.orders.lifecycle import IN_DISPATCH, OrderStatus, values


class PostgresOpsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def summary(self, *, now: datetime, at_risk_limit: int = 50) -> dict:
        async with self._pool.acquire() as conn:
            statuses = await conn.fetch(
                "SELECT zone, status, count(*) AS n FROM orders GROUP BY zone, status"
            )
            outcomes = await conn.fetch(
                "SELECT zone, outcome, count(*) AS n FROM orders"
                " WHERE outcome IS NOT NULL GROUP BY zone, outcome"
            )
            couriers = await conn.fetch(
                "SELECT zone, CASE WHEN NOT on_shift THEN 'off' WHEN route_id IS NULL THEN 'idle'"
                " ELSE 'busy' END AS state, count(*) AS n FROM couriers GROUP BY 1, 2"
            )
            at_risk = await conn.fetch(
                "SELECT order_id, zone, status, promised_by, predicted_delivery_at FROM orders"
                " WHERE status = ANY($3::text[])"
                " AND (predicted_delivery_at > promised_by OR promised_by < $1)"
                " ORDER BY promised_by, order_id LIMIT $2",
                now,
                at_risk_limit,
                values(IN_DISPATCH),
            )
            failures = await conn.fetch(
                "SELECT failure_reason, count(*) AS n FROM orders WHERE status = $1 GROUP BY 1",
                OrderStatus.FAILED.value,
            )
        zones: dict[str, dict] = {}

        def zone(name: str) -> dict:
            return zones.setdefault(name, {"orders": {}, "outcomes": {}, "couriers": {}})

        for r in statuses:
            zone(r["zone"])["orders"][r["status"]] = r["n"]
        for r in outcomes:
            zone(r["zone"])["outcomes"][r["outcome"]] = r["n"]
        for r in couriers:
            zone(r["zone"])["couriers"][r["state"]] = r["n"]
        backlog = sum(
            n
            for z in zones.values()
            for s, n in z["orders"].items()
            if s in IN_DISPATCH
        )
        return {
            "at": now.isoformat(),
            "backlog": backlog,
            "zones": zones,
            "failure_reasons": {r["failure_reason"] or "unknown": r["n"] for r in failures},
            "at_risk": [
                {
                    "order_id": r["order_id"],
                    "zone": r["zone"],
                    "status": r["status"],
                    "promised_by": r["promised_by"].isoformat(),
                    "predicted_delivery_at": r["predicted_delivery_at"].isoformat(),
                }
                for r in at_risk
            ],
        }
