"""Closing a courier's route once it holds no open order, which frees the courier for new work."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from dispatch.orders.lifecycle import ON_ROUTE, values


async def close_route_if_empty(
    conn: asyncpg.Connection, route_id: int | None, now: datetime, *, abandoned: bool
) -> bool:
    """Close ``route_id`` if none of its orders is still assigned or picked up (same transaction)."""
    if route_id is None:
        return False
    courier_id = await conn.fetchval(
        "UPDATE routes SET status = $2, closed_at = $3 WHERE route_id = $1 AND status = 'active'"
        " AND NOT EXISTS (SELECT 1 FROM orders WHERE route_id = $1 AND status = ANY($4::text[]))"
        " RETURNING courier_id",
        route_id,
        "abandoned" if abandoned else "done",
        now,
        values(ON_ROUTE),
    )
    if courier_id is None:
        return False
    await conn.execute(
        "UPDATE couriers SET route_id = NULL WHERE courier_id = $1 AND route_id = $2", courier_id, route_id
    )
    return True
