"""What couriers do through the API — shifts, positions, task events — with SLA bookkeeping."""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.couriers.model import Courier
from dispatch.couriers.ports import CourierObserver, CourierRecords
from dispatch.orders.legs import leg_no, order_of
from dispatch.orders.lifecycle import CLOSED, OrderStatus
from dispatch.orders.promise import PromiseErrors
from dispatch.settings import Policy
from geo.errors import OutOfArea
from geo.network import RoadNetwork
from geo.routes import route_geometry


class CourierFlow:
    def __init__(
        self,
        *,
        couriers: CourierRecords,
        network: RoadNetwork,
        load: StoreLoad,
        metrics: CourierObserver,
        policy: Policy,
        keeper: CatalogKeeper,
        errors: PromiseErrors | None = None,
    ) -> None:
        self.errors = errors or PromiseErrors()  # intake keeps its promises' margin from these
        self.couriers = couriers
        self.network = network
        self.load = load
        self.metrics = metrics
        self.policy = policy
        self.keeper = keeper

    @property
    def _courier_snap_m(self) -> float:
        return self.policy.max_snap_m * self.policy.courier_snap_factor

    async def register(
        self, courier_id: str, *, name: str, zone: str, capacity: int, now: datetime
    ) -> tuple[Courier, bool]:
        courier, created = await self.couriers.upsert(
            courier_id, name=name, zone=zone, capacity=capacity, now=now
        )
        self.metrics.ensure_zone(zone)
        return courier, created

    async def shift(
        self, courier_id: str, *, on: bool, lat: float, lon: float, ends_at: datetime | None, now: datetime
    ) -> tuple[Courier, list[str]]:
        if on:
            ends_at = ends_at or now + timedelta(seconds=self.policy.default_shift_s)
        return await self.couriers.set_shift(courier_id, on=on, lat=lat, lon=lon, ends_at=ends_at, now=now)

    async def positions(self, courier_id: str, positions: list[tuple[float, float, datetime]]) -> Courier:
        return await self.couriers.add_positions(courier_id, positions)

    async def event(self, courier_id: str, order_id: str, kind: str, *, now: datetime) -> dict:
        if kind == "arrived_store":
            await self.couriers.arrived_store(courier_id, order_id, now=now)
            return {"order_id": order_id, "status": "assigned"}
        if kind == "picked_up":
            _zone, _lines, changed = await self.couriers.picked_up(courier_id, order_id, now=now)
            if changed:
                route = await self.couriers.active_route(courier_id)
                if route is not None:
                    self.load.order_left(route.store_id)
            return {"order_id": order_id, "status": "picked_up"}
        if kind == "delivered":
            done = await self.couriers.delivered(courier_id, order_id, now=now)
            if done.changed:
                self.metrics.delivered(done.zone, (now - done.placed_at).total_seconds())
                if done.predicted_at_intake is not None:
                    error_s = (now - done.predicted_at_intake).total_seconds()
                    self.metrics.promise_error_observed(done.zone, error_s)
                    self.errors.observe(done.zone, error_s)
            if done.outcome is not None:
                self.metrics.outcome(done.zone, done.outcome)
            return {"order_id": order_id, "status": "delivered"}
        released = await self.couriers.reject(courier_id, order_id, now=now)
        return {"order_id": order_id, "status": "reserved", "released": released}

    def _reposition_stops(self, courier: Courier) -> list[dict]:
        """With no route, where dispatch asks the courier to wait (prepositioning), if anywhere."""
        node = courier.reposition_node
        if node is None or not courier.on_shift or courier.lat is None or courier.lon is None:
            return []
        try:
            here = self.network.snap(courier.lat, courier.lon, max_distance_m=self._courier_snap_m).node
        except OutOfArea:
            return []
        lat, lon = self.network.node_lat_lon(node)
        return [
            {
                "kind": "reposition",
                "order_ids": [],
                "location": {"lat": lat, "lon": lon},
                "planned_at": None,
                "route": route_geometry(self.network, here, node),
            }
        ]

    async def tasks(self, courier_id: str) -> dict:
        """The courier's current plan: stops in order, planned times, road geometry (GeoJSON)."""
        courier = await self.couriers.get(courier_id)
        route = await self.couriers.active_route(courier_id)
        if route is None:
            return {"courier_id": courier_id, "route_id": None, "stops": self._reposition_stops(courier)}
        rows = {r.order_id: r for r in await self.couriers.route_orders(route.route_id)}
        plan = route.plan
        network = self.network
        stops = []
        here = None
        if courier.lat is not None and courier.lon is not None:
            try:
                here = network.snap(courier.lat, courier.lon, max_distance_m=self._courier_snap_m).node
            except OutOfArea:
                here = None
        picked = all(
            rows[o["order_id"]].status != OrderStatus.ASSIGNED
            for o in plan["orders"]
            if o["order_id"] in rows
        )
        store_node = plan["store_node"]
        if not picked:
            lat, lon = network.node_lat_lon(store_node)
            stops.append(
                {
                    "kind": "pickup",
                    "store_id": route.store_id,
                    "order_ids": [o["order_id"] for o in plan["orders"] if o["order_id"] in rows],
                    "location": {"lat": lat, "lon": lon},
                    "planned_at": _iso_epoch(plan.get("pickup_at")),
                    "route": route_geometry(network, here, store_node) if here is not None else None,
                }
            )
            here = store_node
        for drop in plan["orders"]:
            row = rows.get(drop["order_id"])
            if row is None or row.status in CLOSED:
                continue
            lat, lon = network.node_lat_lon(drop["node"])
            stops.append(
                {
                    "kind": "dropoff",
                    "order_ids": [drop["order_id"]],  # a leg past the first: "<order_id>/<n>"
                    "leg": {"order_id": order_of(drop["order_id"]), "leg": leg_no(drop["order_id"])},
                    "location": {"lat": row.drop_lat if row.drop_lat is not None else lat,
                                 "lon": row.drop_lon if row.drop_lon is not None else lon},
                    "planned_at": _iso_epoch(drop["dropoff_at"]),
                    "promised_by": row.promised_by.isoformat(),
                    "route": route_geometry(network, here, drop["node"]) if here is not None else None,
                }
            )
            here = drop["node"]
        return {
            "courier_id": courier_id,
            "route_id": route.route_id,
            "store_id": route.store_id,
            "stops": stops,
        }


def _iso_epoch(seconds: float | None) -> str | None:
    from dispatch.round.inputs import from_epoch

    return from_epoch(seconds).isoformat() if seconds is not None else None
