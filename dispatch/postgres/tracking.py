"""PostgreSQL adapter for the customer's tracking page: one order found by its link's digest."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.clock import iso
from dispatch.orders.lifecycle import OrderStatus

# The courier's position joins only while the order is picked up (on its way to the door).
_FIND = (
    "SELECT o.status, o.promised_by, o.predicted_delivery_at, o.delivered_at,"
    " c.lat AS courier_lat, c.lon AS courier_lon, c.position_at AS courier_position_at"
    " FROM orders o LEFT JOIN couriers c ON c.courier_id = o.courier_id AND o.status = $2"
    " WHERE o.tracking_hash = $1"
)



class PostgresTrackingRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, digest: bytes) -> dict[str, Any] | None:
        """What the customer may see of the order whose link hashes to ``digest``; None if none."""
        row = await self._pool.fetchrow(_FIND, digest, OrderStatus.PICKED_UP.value)
        if row is None:
            return None
        courier = None
        if row["status"] == OrderStatus.PICKED_UP.value and row["courier_lat"] is not None:
            courier = {
                "lat": row["courier_lat"],
                "lon": row["courier_lon"],
                "at": iso(row["courier_position_at"]),
            }
        return {
            "status": row["status"],
            "promised_by": iso(row["promised_by"]),
            "predicted_delivery_at": iso(row["predicted_delivery_at"]),
            "delivered_at": iso(row["delivered_at"]),
            "courier": courier,
        }
