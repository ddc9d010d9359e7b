"""PostgreSQL adapter for the customer's tracking page: one order found by its link's digest."""

from __future__ import annotations

from typing import Any

import asyncpg

from dispatch.clock import iso
from dispatch.orders.legs import Leg, delivered_at, order_status
from dispatch.orders.lifecycle import OrderStatus

# The order, then its legs; a courier's position joins only while its leg is picked up (on its way
# to the door).
_FIND = "SELECT order_id, promised_by FROM orders WHERE tracking_hash = $1"
_LEGS = (
    "SELECT l.leg_no, l.store_id, l.status, l.predicted_delivery_at, l.delivered_at,"
    " c.lat AS courier_lat, c.lon AS courier_lon, c.position_at AS courier_position_at"
    " FROM orders l LEFT JOIN couriers c ON c.courier_id = l.courier_id AND l.status = $2"
    " WHERE coalesce(l.leg_of, l.order_id) = $1 ORDER BY l.leg_no"
)


class PostgresTrackingRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def find(self, digest: bytes) -> dict[str, Any] | None:
        """What the customer may see of the order whose link hashes to ``digest``; None if none.

        An order of several legs is as far as its slowest leg and arrives with its last; the
        courier shown is the one riding a picked-up leg to the door."""
        order = await self._pool.fetchrow(_FIND, digest)
        if order is None:
            return None
        rows = await self._pool.fetch(_LEGS, order["order_id"], OrderStatus.PICKED_UP.value)
        legs = [
            Leg(r["leg_no"], r["store_id"], OrderStatus(r["status"]), None, (), r["predicted_delivery_at"],
                None, r["delivered_at"])
            for r in rows
        ]  # fmt: skip
        riding = next((r for r in rows if r["courier_lat"] is not None), None)
        courier = None
        if riding is not None:
            courier = {
                "lat": riding["courier_lat"],
                "lon": riding["courier_lon"],
                "at": iso(riding["courier_position_at"]),
            }
        predicted = [leg.predicted_delivery_at for leg in legs if leg.predicted_delivery_at is not None]
        return {
            "status": order_status(legs).value,
            "promised_by": iso(order["promised_by"]),
            "predicted_delivery_at": iso(max(predicted, default=None)),
            "delivered_at": iso(delivered_at(legs)),
            "courier": courier,
        }
