"""PostgreSQL adapter for data retention: erase customer drop-off coordinates of old orders."""

from __future__ import annotations

from datetime import datetime

import asyncpg


class PostgresRetentionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def erase_dropoffs(self, *, closed_before: datetime, batch: int = 10_000) -> int:
        """NULL the drop-off coordinates of orders closed before ``closed_before``, on every leg; the
        road node (``drop_node``) stays. Works in batches; returns how many orders were erased."""
        total = 0
        while True:
            erased = await self._pool.fetchval(
                "WITH due AS (SELECT order_id FROM orders WHERE leg_of IS NULL AND closed_at < $1"
                " AND drop_lat IS NOT NULL LIMIT $2 FOR UPDATE SKIP LOCKED)"
                " , done AS (UPDATE orders o SET drop_lat = NULL, drop_lon = NULL FROM due"
                " WHERE coalesce(o.leg_of, o.order_id) = due.order_id RETURNING o.leg_of)"
                " SELECT count(*) FILTER (WHERE leg_of IS NULL) FROM done",
                closed_before,
                batch,
            )
            total += erased
            if erased < batch:
                return total
