"""The demo's couriers: shifts, position fixes, taking tasks, riding the routes and task events."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from dispatch.orders.legs import order_of
from dispatch.sim.api_client import ApiClient, Json
from dispatch.sim.city import CourierPlan, DemoConfig
from dispatch.sim.events import Action, EventQueue
from dispatch.sim.order_system import OrderRecord
from geo.network import RoadNetwork

EARTH_M_PER_DEG = 111_195.0
HANDLING_S = 60.0  # at a stop: arriving to handing over, and handing over to leaving

Waypoint = tuple[float, float, float]  # (t, lon, lat)


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance between two (lon, lat) points; fine at city scale."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * math.cos(lat) * EARTH_M_PER_DEG
    dy = (b[1] - a[1]) * EARTH_M_PER_DEG
    return math.hypot(dx, dy)


@dataclass
class CourierSim:
    plan: CourierPlan
    headers: dict[str, str]
    lon: float
    lat: float
    on_shift: bool = False
    busy: bool = False
    route_id: int | None = None
    waypoints: list[Waypoint] = field(default_factory=list)
    busy_s: float = 0.0
    shift_s: float = 0.0
    delivered: int = 0
    heading: tuple[float, float] | None = None  # where it is repositioning to, while idle

    def position(self, t: float) -> tuple[float, float]:
        """(lon, lat) at simulated second `t`, along its waypoints."""
        pts = self.waypoints
        if not pts or t <= pts[0][0]:
            return (self.lon, self.lat) if not pts else (pts[0][1], pts[0][2])
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(pts):
            if t0 <= t <= t1:
                f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        return pts[-1][1], pts[-1][2]


class Couriers:
    """The fleet's courier apps: each on shift reports fixes, takes tasks and rides them."""

    def __init__(
        self, *, config: DemoConfig, api: ApiClient, events: EventQueue, records: dict[str, OrderRecord],
        rng: np.random.Generator,
    ) -> None:
        self.config = config
        self.api = api
        self.events = events
        self.records = records
        self.rng = rng
        self.couriers: dict[str, CourierSim] = {}
        self.rejected_tasks = 0
        self.repositions = 0

    async def register(self, plan: CourierPlan, network: RoadNetwork) -> None:
        """Register the courier at its start node, get its token and schedule its shift."""
        api = self.api
        status, body = await api.call(
            "PUT",
            f"/v1/couriers/{plan.courier_id}",
            api.operator,
            {"name": plan.courier_id, "zone": plan.zone, "capacity": plan.capacity},
        )
        if status not in (200, 201):
            raise RuntimeError(f"courier registration failed: {body}")
        lat, lon = float(network.lat[plan.node]), float(network.lon[plan.node])
        headers = await api.token("courier", courier_id=plan.courier_id)
        self.couriers[plan.courier_id] = CourierSim(plan, headers, lon, lat)
        self.events.schedule(plan.shift_start_s, self._start_shift(plan.courier_id))

    def busy_count(self) -> int:
        """Couriers riding a task."""
        return sum(1 for c in self.couriers.values() if c.busy)

    def on_shift_count(self) -> int:
        """Couriers on shift."""
        return sum(1 for c in self.couriers.values() if c.on_shift)

    async def take_tasks(self) -> None:
        """Every idle courier on shift asks for its tasks, then acts on them in a fixed order."""
        idle = [c for c in self.couriers.values() if c.on_shift and not c.busy]
        answers = await self.api.together(
            self.api.call("GET", f"/v1/couriers/{c.plan.courier_id}/tasks", c.headers) for c in idle
        )
        for courier, (status, tasks) in zip(idle, answers, strict=True):  # fixed order: deterministic
            await self._take(courier, status, tasks)

    def _start_shift(self, courier_id: str) -> Action:
        async def start() -> None:
            courier = self.couriers[courier_id]
            status, body = await self.api.call(
                "POST",
                f"/v1/couriers/{courier_id}/shift",
                courier.headers,
                {"state": "on", "position": {"lat": courier.lat, "lon": courier.lon}},
            )
            if status != 200:
                raise RuntimeError(f"shift start failed: {body}")
            courier.on_shift = True

        return start

    def schedule_positions(self) -> None:
        """The first round of position fixes, one interval into the day."""
        self.events.schedule(self.config.position_every_s, self._report_positions())

    def _report_positions(self) -> Action:
        """Every courier on shift reports where it is (its app sends a fix every interval)."""

        async def report() -> None:
            now_s = self.events.now_s
            riding = [c for c in self.couriers.values() if c.on_shift]
            fixes = [c.position(now_s) for c in riding]
            await self.api.together(
                self.api.call(
                    "POST",
                    f"/v1/couriers/{c.plan.courier_id}/positions",
                    c.headers,
                    {"positions": [{"lat": lat, "lon": lon}]},
                )
                for c, (lon, lat) in zip(riding, fixes, strict=True)
            )
            self.events.schedule(now_s + self.config.position_every_s, self._report_positions())

        return report

    async def _take(self, courier: CourierSim, status: int, tasks: Json) -> None:
        if status != 200 or not tasks.get("stops"):
            return
        if tasks["stops"][0]["kind"] == "reposition":
            self._move_to(courier, tasks["stops"][0])
            return
        if tasks.get("route_id") == courier.route_id:
            return
        courier.route_id = tasks["route_id"]
        first = tasks["stops"][0]
        if self.rng.random() < self.config.reject_share:
            self.rejected_tasks += 1
            await self.api.call(
                "POST",
                f"/v1/couriers/{courier.plan.courier_id}/events",
                courier.headers,
                {"order_id": first["order_ids"][0], "type": "rejected"},
            )
            return
        self._note_planned_drop_offs(tasks["stops"])
        self._ride(courier, tasks["stops"])

    def _note_planned_drop_offs(self, stops: list[Json]) -> None:
        """What the service told the courier, for the report's ETA error once assigned."""
        for stop in stops:
            if stop["kind"] != "dropoff" or not stop.get("planned_at"):
                continue
            for unit in stop["order_ids"]:
                record = self.records.get(order_of(unit))
                if record is not None and unit not in record.planned_on_route_s:
                    record.planned_on_route_s[unit] = self.events.sim_s(stop["planned_at"])

    def _move_to(self, courier: CourierSim, stop: Json) -> None:
        """Ride (still idle, still assignable) to where dispatch asks the courier to wait."""
        target = (stop["location"]["lon"], stop["location"]["lat"])
        if courier.heading == target:
            return
        courier.heading = target
        t = self.events.now_s
        lon, lat = courier.position(t)
        points = [(t, lon, lat)]
        for x, y in [*((stop.get("route") or {}).get("coordinates") or []), list(target)]:
            t += _metres((points[-1][1], points[-1][2]), (x, y)) / self._speed_mps(t)
            points.append((t, x, y))
        courier.waypoints = points
        self.repositions += 1

    def _ride(self, courier: CourierSim, stops: list[Json]) -> None:
        """Plan the ride along the service's route geometry and schedule each event on it."""
        start = t = self.events.now_s
        lon, lat = courier.position(t)
        points: list[Waypoint] = [(t, lon, lat)]
        courier.busy = True
        courier.heading = None
        for stop in stops:
            t = self._ride_to(stop, points, t)
            t = self._handle_stop(courier, stop, t)
            points.append((t, stop["location"]["lon"], stop["location"]["lat"]))
        courier.waypoints = points
        end = t

        async def done() -> None:
            courier.busy = False
            courier.busy_s += end - start
            courier.lon, courier.lat = points[-1][1], points[-1][2]
            courier.waypoints = []

        self.events.schedule(end + 0.001, done)

    def _ride_to(self, stop: Json, points: list[Waypoint], t: float) -> float:
        """Extend `points` along the stop's route line to the stop; returns the arrival time."""
        for x, y in (stop.get("route") or {}).get("coordinates") or []:
            t += _metres((points[-1][1], points[-1][2]), (x, y)) / self._speed_mps(t)
            points.append((t, x, y))
        dest = stop["location"]
        t += _metres((points[-1][1], points[-1][2]), (dest["lon"], dest["lat"])) / self._speed_mps(t)
        points.append((t, dest["lon"], dest["lat"]))
        return t

    def _speed_mps(self, t: float) -> float:
        """The speed of a stretch of road started at second `t`: slower while it rains."""
        return self.config.weather.speed_mps(self.config.courier_speed_mps, t)

    def _handle_stop(self, courier: CourierSim, stop: Json, t: float) -> float:
        """Schedule the events at a stop reached at `t`; returns when the courier leaves it."""
        order_ids = stop["order_ids"]
        if stop["kind"] == "pickup":
            self.events.schedule(t, self._event(courier, order_ids[0], "arrived_store"))
            records = [(o, self.records.get(order_of(o))) for o in order_ids]
            ready = max((r.leg_packed_s.get(o) or t for o, r in records if r is not None), default=t)
            t = max(t + HANDLING_S, ready)
            for order_id in order_ids:
                self.events.schedule(t, self._event(courier, order_id, "picked_up"))
        else:
            t += HANDLING_S
            for order_id in order_ids:
                self.events.schedule(t, self._event(courier, order_id, "delivered"))
        return t + HANDLING_S

    def _event(self, courier: CourierSim, order_id: str, kind: str) -> Action:
        async def event() -> None:
            record = self.records.get(order_of(order_id))
            if record is None or record.cancelled:
                return
            status, _ = await self.api.call(
                "POST",
                f"/v1/couriers/{courier.plan.courier_id}/events",
                courier.headers,
                {"order_id": order_id, "type": kind},
            )
            if status != 200:
                return
            if kind == "picked_up":
                record.picked = True
            elif kind == "delivered":
                record.leg_delivered(order_id, self.events.now_s)
                record.courier_id = courier.plan.courier_id
                courier.delivered += 1

        return event
