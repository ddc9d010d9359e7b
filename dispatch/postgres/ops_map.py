"""PostgreSQL adapter for the operators' map: stores, couriers with their routes, open orders, zone
modes, as one JSON-ready snapshot."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.clock import iso
from dispatch.orders.lifecycle import OPEN, OrderStatus, values

_STORES = "SELECT store_id, name, zone, lat, lon, status FROM stores ORDER BY store_id"
_COURIERS = (
    "SELECT courier_id, zone, lat, lon, position_at, route_id,"
    " CASE WHEN NOT on_shift THEN 'off' WHEN route_id IS NULL THEN 'idle' ELSE 'busy' END AS state"
    " FROM couriers ORDER BY courier_id"
)
_ORDERS = (
    "SELECT o.order_id, o.leg_no, o.status, o.zone, o.store_id, o.courier_id, o.route_id,"
    " o.drop_lat, o.drop_lon, o.promised_by, o.predicted_delivery_at,"
    " (o.predicted_delivery_at > o.promised_by OR o.promised_by < $1) AS at_risk,"
    " s.lat AS store_lat, s.lon AS store_lon"
    " FROM orders o JOIN stores s USING (store_id)"
    " WHERE o.status = ANY($2::text[]) ORDER BY o.order_id"
)
_MODES = (
    "SELECT zone, closed, closed_area, radius_factor, promise_extension_minutes, on_overload, until, reason"
    " FROM zone_modes ORDER BY zone"
)



class PostgresMapRepository:
    """What the operators' map draws, read in one repeatable-read transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def snapshot(self, *, now: datetime) -> dict[str, Any]:
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            stores = await conn.fetch(_STORES)
            couriers = await conn.fetch(_COURIERS)
            orders = await conn.fetch(_ORDERS, now, values(OPEN))
            modes = await conn.fetch(_MODES)
        routes = _by_route(orders)
        return {
            "at": now.isoformat(),
            "stores": [
                {"store_id": r["store_id"], "name": r["name"], "zone": r["zone"], "status": r["status"],
                 "position": {"lat": r["lat"], "lon": r["lon"]}}
                for r in stores
            ],
            "couriers": [_courier(r, routes, now) for r in couriers],
            "orders": [_order(r) for r in orders],
            "zone_modes": [_mode(r) for r in modes],
        }  # fmt: skip


def _by_route(orders: list[asyncpg.Record]) -> dict[int, list[asyncpg.Record]]:
    """Open orders by route, each route's in predicted drop-off order."""
    routes: dict[int, list[asyncpg.Record]] = {}
    for o in orders:
        if o["route_id"] is not None:
            routes.setdefault(o["route_id"], []).append(o)
    for stops in routes.values():
        stops.sort(key=lambda o: (o["predicted_delivery_at"], o["order_id"]))
    return routes


def _courier(row: asyncpg.Record, routes: dict[int, list[asyncpg.Record]], now: datetime) -> dict[str, Any]:
    has_position = row["lat"] is not None and row["lon"] is not None
    at = row["position_at"]
    return {
        "courier_id": row["courier_id"],
        "zone": row["zone"],
        "state": row["state"],
        "position": {"lat": row["lat"], "lon": row["lon"]} if has_position else None,
        "position_at": iso(at),
        "position_age_s": round((now - at).total_seconds(), 1) if at is not None else None,
        "route_id": row["route_id"],
        "route": _route_line(row, routes.get(row["route_id"], [])) if row["route_id"] is not None else None,
    }


def _route_line(courier: asyncpg.Record, mine: list[asyncpg.Record]) -> dict[str, Any] | None:
    """Stop to stop (not the road path): where the courier is, the store while anything on the
    route is still to be picked up, then the drop-offs in their predicted order."""
    if not mine:
        return None
    points: list[list[float]] = []
    if courier["lat"] is not None and courier["lon"] is not None:
        points.append([courier["lon"], courier["lat"]])
    if any(o["status"] == OrderStatus.ASSIGNED.value for o in mine):
        points.append([mine[0]["store_lon"], mine[0]["store_lat"]])
    points += [[o["drop_lon"], o["drop_lat"]] for o in mine if o["drop_lat"] is not None]
    if len(points) < 2:
        return None
    return {"type": "LineString", "coordinates": [[round(x, 5), round(y, 5)] for x, y in points]}


def _order(row: asyncpg.Record) -> dict[str, Any]:
    drop = (
        {"lat": row["drop_lat"], "lon": row["drop_lon"]} if row["drop_lat"] is not None else None
    )
    return {
        "order_id": row["order_id"],  # a leg past the first is "<order_id>/<n>"
        "leg": row["leg_no"],
        "status": row["status"],
        "zone": row["zone"],
        "store_id": row["store_id"],
        "courier_id": row["courier_id"],
        "drop_off": drop,
        "promised_by": iso(row["promised_by"]),
        "predicted_delivery_at": iso(row["predicted_delivery_at"]),
        "at_risk": bool(row["at_risk"]),
    }


def _mode(row: asyncpg.Record) -> dict[str, Any]:
    area = row["closed_area"]
    return {
        "zone": row["zone"],
        "closed": row["closed"],
        "closed_area": json.loads(area) if isinstance(area, str) else area,
        "radius_factor": row["radius_factor"],
        "promise_extension_minutes": row["promise_extension_minutes"],
        "on_overload": row["on_overload"],
        "until": iso(row["until"]),
        "reason": row["reason"],
    }
