"""The demo's simulator: shops, the order system and couriers acting only through the HTTP API.

The service runs on a virtual clock. The runner keeps one queue of timed actions and, for
each, sets the clock to its time and performs it (an HTTP request, or a dispatch round), one
at a time in a fixed order, so the same seed always plays the same day.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import numpy as np

from dispatch.clock import VirtualClock
from dispatch.sim.city import City, CourierPlan, OrderPlan, ShopPlan, at

EARTH_M_PER_DEG = 111_195.0


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Equirectangular distance between two (lon, lat) points; fine at city scale."""
    lat = math.radians((a[1] + b[1]) / 2)
    dx = (b[0] - a[0]) * math.cos(lat) * EARTH_M_PER_DEG
    dy = (b[1] - a[1]) * EARTH_M_PER_DEG
    return math.hypot(dx, dy)


@dataclass
class OrderRecord:
    plan: OrderPlan
    status: int = 0
    store_id: str | None = None
    placed_s: float | None = None
    delivered_s: float | None = None
    cancelled: bool = False
    picked: bool = False
    courier_id: str | None = None
    packed_s: float | None = None
    predicted_s: float | None = None  # the 201 answer's predicted delivery (sim seconds)
    promised_s: float | None = None  # the promise the order was given (sim seconds)

    @property
    def click_to_door_s(self) -> float | None:
        """Seconds from placement to delivery; None until delivered."""
        if self.placed_s is None or self.delivered_s is None:
            return None
        return self.delivered_s - self.placed_s


@dataclass
class CourierSim:
    plan: CourierPlan
    headers: dict[str, str]
    lon: float
    lat: float
    on_shift: bool = False
    busy: bool = False
    route_id: int | None = None
    waypoints: list[tuple[float, float, float]] = field(default_factory=list)  # (t, lon, lat)
    busy_s: float = 0.0
    shift_s: float = 0.0
    delivered: int = 0
    heading: tuple[float, float] | None = None  # where it is repositioning to, while idle

    def position(self, t: float) -> tuple[float, float]:
        pts = self.waypoints
        if not pts or t <= pts[0][0]:
            return (self.lon, self.lat) if not pts else (pts[0][1], pts[0][2])
        for (t0, x0, y0), (t1, x1, y1) in itertools.pairwise(pts):
            if t0 <= t <= t1:
                f = 0.0 if t1 == t0 else (t - t0) / (t1 - t0)
                return x0 + f * (x1 - x0), y0 + f * (y1 - y0)
        return pts[-1][1], pts[-1][2]


@dataclass
class Sample:
    t_s: float
    open_orders: int
    busy_couriers: int
    on_shift: int


@dataclass
class DemoResult:
    records: dict[str, OrderRecord]
    couriers: dict[str, CourierSim]
    samples: list[Sample]
    rejected_tasks: int
    stock_syncs: int
    summary: dict
    end_s: float
    wall_s: float
    requests: int
    repositions: int = 0


class DemoRunner:
    def __init__(
        self,
        *,
        city: City,
        session: aiohttp.ClientSession,
        base_url: str,
        operator: dict[str, str],
        clock: VirtualClock,
        dispatch_round: Callable[[], Awaitable[object]],
        speed: float = 0.0,
        progress=None,
    ) -> None:
        self.city = city
        self.config = city.config
        self.session = session
        self.base = base_url.rstrip("/")
        self.operator = operator
        self.clock = clock
        self.dispatch_round = dispatch_round
        self.speed = speed
        self.say = progress or (lambda msg: print(msg, file=sys.stderr, flush=True))
        self.rng = np.random.default_rng(self.config.seed + 1)
        self._queue: list[tuple[float, int, Callable[[], Awaitable[None]]]] = []
        self._seq = itertools.count()
        self.records = {o.order_id: OrderRecord(o) for o in city.orders}
        self.couriers: dict[str, CourierSim] = {}
        self.shops = {s.store_id: s for s in city.shops}
        self.shop_headers: dict[str, dict[str, str]] = {}
        self.shop_versions: dict[str, int] = {}
        self.packers: dict[str, list[float]] = {s.store_id: [0.0, 0.0] for s in city.shops}
        self.samples: list[Sample] = []
        self.rejected_tasks = 0
        self.repositions = 0
        self.stock_syncs = 0
        self.requests = 0
        self.order_headers: dict[str, str] = {}
        self._now_s = 0.0

    # --- plumbing -------------------------------------------------------------------------
    def schedule(self, t_s: float, action: Callable[[], Awaitable[None]]) -> None:
        heapq.heappush(self._queue, (t_s, next(self._seq), action))

    def _sim_s(self, iso: str) -> float:
        """An ISO time from the service as seconds of the simulated day."""
        return (datetime.fromisoformat(iso) - at(self.config, 0.0)).total_seconds()

    async def call(self, method: str, path: str, headers: dict[str, str], body=None) -> tuple[int, dict]:
        self.requests += 1
        async with self.session.request(method, self.base + path, json=body, headers=headers) as response:
            payload = await response.json(content_type=None)
            if response.status >= 500:
                raise RuntimeError(f"{method} {path} answered {response.status}: {payload}")
            return response.status, payload

    async def token(self, role: str, **scope: str) -> dict[str, str]:
        status, body = await self.call("POST", "/v1/tokens", self.operator, {"role": role, **scope})
        if status != 201:
            raise RuntimeError(f"could not create a {role} token: {body}")
        return {"Authorization": f"Bearer {body['token']}"}

    # --- setup ----------------------------------------------------------------------------
    async def setup(self) -> None:
        self.say(f"setting up {len(self.city.shops)} shops and {len(self.city.couriers)} couriers")
        for shop in self.city.shops:
            await self._register_shop(shop)
        self.order_headers = await self.token("order_system")
        for plan in self.city.couriers:
            status, body = await self.call(
                "PUT",
                f"/v1/couriers/{plan.courier_id}",
                self.operator,
                {"name": plan.courier_id, "zone": plan.zone, "capacity": plan.capacity},
            )
            if status not in (200, 201):
                raise RuntimeError(f"courier registration failed: {body}")
            lat, lon = float(self.network_lat(plan.node)), float(self.network_lon(plan.node))
            self.couriers[plan.courier_id] = CourierSim(
                plan, await self.token("courier", courier_id=plan.courier_id), lon, lat
            )
            self.schedule(plan.shift_start_s, self._start_shift(plan.courier_id))
        for record in self.records.values():
            self.schedule(record.plan.at_s, self._place(record))
        for k, shop in enumerate(self.city.shops):
            first = self.config.restock_every_s * (1 + k / len(self.city.shops))
            self.schedule(first, self._shop_sync(shop.store_id))
        self.schedule(0.0, self._tick())
        self.schedule(self.config.position_every_s, self._report_positions())

    async def _register_shop(self, shop: ShopPlan) -> None:
        body = {
            "name": shop.name,
            "location": {"lat": shop.lat, "lon": shop.lon},
            "zone": shop.zone,
            "pick_minutes": shop.pick_minutes,
            "radius_minutes": 20,
            "opening_hours": [{"days": "daily", "open": "07:00", "close": "23:30"}],
        }
        status, payload = await self.call("PUT", f"/v1/stores/{shop.store_id}", self.operator, body)
        if status not in (200, 201):
            raise RuntimeError(f"store registration failed: {payload}")
        headers = await self.token("store", store_id=shop.store_id)
        self.shop_headers[shop.store_id] = headers
        self.shop_versions[shop.store_id] = 1
        items = [{"sku": sku, "quantity": qty} for sku, qty in shop.stock.items()]
        status, payload = await self.call(
            "PUT", f"/v1/stores/{shop.store_id}/stock", headers, {"version": 1, "items": items}
        )
        if status != 200:
            raise RuntimeError(f"stock snapshot failed: {payload}")
        self.stock_syncs += 1

    def network_lat(self, node: int) -> float:
        return float(self.network.lat[node])

    def network_lon(self, node: int) -> float:
        return float(self.network.lon[node])

    # --- the day --------------------------------------------------------------------------
    async def run(self, network) -> DemoResult:
        self.network = network
        started = time.perf_counter()
        await self.setup()
        window_s = self.config.minutes * 60.0
        limit_s = window_s + self.config.max_drain_min * 60.0
        next_report = 0.0
        wall0 = time.perf_counter()
        while self._queue:
            t_s, _, action = heapq.heappop(self._queue)
            if t_s > limit_s:
                break
            if self.speed > 0:
                lag = t_s / self.speed - (time.perf_counter() - wall0)
                if lag > 0:
                    await asyncio.sleep(lag)
            if t_s > self._now_s:
                self._now_s = t_s
                self.clock.set(at(self.config, t_s))
            await action()
            if t_s >= next_report:
                self._report_progress(t_s)
                next_report += 600.0
            if (
                t_s > window_s
                and self._open_orders() == 0
                and all(r.placed_s is not None or r.status for r in self.records.values())
            ):
                break
        # settle: two more rounds so the sweeper has seen the final state, then the summary
        await self.dispatch_round()
        _, summary = await self.call("GET", "/v1/ops/summary", self.operator)
        self._report_progress(self._now_s)
        return DemoResult(
            self.records,
            self.couriers,
            self.samples,
            self.rejected_tasks,
            self.stock_syncs,
            summary,
            self._now_s,
            time.perf_counter() - started,
            self.requests,
            self.repositions,
        )

    def _open_orders(self) -> int:
        return sum(
            1 for r in self.records.values() if r.status == 201 and not r.cancelled and r.delivered_s is None
        )

    def _report_progress(self, t_s: float) -> None:
        local = at(self.config, t_s).astimezone(self._tz()).strftime("%H:%M")
        placed = sum(1 for r in self.records.values() if r.status == 201)
        delivered = [r for r in self.records.values() if r.delivered_s is not None]
        late = sum(1 for r in delivered if (ctd := r.click_to_door_s) is not None and ctd > 1800)
        busy = sum(1 for c in self.couriers.values() if c.busy)
        shift = sum(1 for c in self.couriers.values() if c.on_shift)
        refused = sum(1 for r in self.records.values() if r.status in (409, 422))
        self.say(
            f"[{local}] placed {placed:5d}  delivered {len(delivered):5d}  late {late:4d}  "
            f"refused {refused:3d}  open {self._open_orders():4d}  couriers busy {busy:3d}/{shift}"
        )

    def _tz(self):
        from zoneinfo import ZoneInfo

        return ZoneInfo("Asia/Shanghai")

    # --- actions --------------------------------------------------------------------------
    def _tick(self):
        async def tick() -> None:
            await self.dispatch_round()
            idle = [c for c in self.couriers.values() if c.on_shift and not c.busy]
            answers = await self._together(
                self.call("GET", f"/v1/couriers/{c.plan.courier_id}/tasks", c.headers) for c in idle
            )
            for courier, (status, tasks) in zip(idle, answers, strict=True):  # fixed order: deterministic
                await self._take_tasks(courier, status, tasks)
            self.samples.append(
                Sample(
                    self._now_s,
                    self._open_orders(),
                    sum(1 for c in self.couriers.values() if c.busy),
                    sum(1 for c in self.couriers.values() if c.on_shift),
                )
            )
            self.schedule(self._now_s + self.config.tick_s, self._tick())

        return tick

    def _start_shift(self, courier_id: str):
        async def start() -> None:
            courier = self.couriers[courier_id]
            status, body = await self.call(
                "POST",
                f"/v1/couriers/{courier_id}/shift",
                courier.headers,
                {"state": "on", "position": {"lat": courier.lat, "lon": courier.lon}},
            )
            if status != 200:
                raise RuntimeError(f"shift start failed: {body}")
            courier.on_shift = True

        return start

    def _report_positions(self):
        """Every courier on shift reports where it is (its app sends a fix every interval)."""

        async def report() -> None:
            riding = [c for c in self.couriers.values() if c.on_shift]
            fixes = [c.position(self._now_s) for c in riding]
            await self._together(
                self.call(
                    "POST",
                    f"/v1/couriers/{c.plan.courier_id}/positions",
                    c.headers,
                    {"positions": [{"lat": lat, "lon": lon}]},
                )
                for c, (lon, lat) in zip(riding, fixes, strict=True)
            )
            self.schedule(self._now_s + self.config.position_every_s, self._report_positions())

        return report

    def _place(self, record: OrderRecord):
        async def place() -> None:
            plan = record.plan
            body = {
                "order_id": plan.order_id,
                "items": [{"sku": s, "quantity": q} for s, q in plan.lines],
                "drop_off": {"lat": plan.lat, "lon": plan.lon},
            }
            status, payload = await self.call("POST", "/v1/orders", self.order_headers, body)
            record.status = status
            if status != 201:
                return
            record.store_id = payload["store_id"]
            record.placed_s = self._now_s
            record.predicted_s = self._sim_s(payload["predicted_delivery_at"])
            record.promised_s = self._sim_s(payload["promised_by"])
            packers = self.packers[record.store_id]
            k = int(np.argmin(packers))
            packed = max(self._now_s, packers[k]) + self.shops[record.store_id].pick_minutes * 60.0
            packers[k] = packed
            record.packed_s = packed
            self.schedule(packed, self._packed(record))
            if plan.cancel_after_s is not None:
                self.schedule(self._now_s + plan.cancel_after_s, self._cancel(record))

        return place

    def _packed(self, record: OrderRecord):
        async def packed() -> None:
            if record.cancelled or record.store_id is None:
                return
            await self.call(
                "POST",
                f"/v1/stores/{record.store_id}/orders/{record.plan.order_id}/packed",
                self.shop_headers[record.store_id],
            )

        return packed

    def _cancel(self, record: OrderRecord):
        async def cancel() -> None:
            if record.picked or record.delivered_s is not None:
                return
            status, _ = await self.call(
                "POST", f"/v1/orders/{record.plan.order_id}/cancel", self.order_headers
            )
            if status == 200:
                record.cancelled = True

        return cancel

    def _shop_sync(self, store_id: str):
        """The shop's POS: walk-in sales and restocks, sent as deltas (never our own sales)."""

        async def sync() -> None:
            shop = self.shops[store_id]
            headers = self.shop_headers[store_id]
            skus = list(shop.stock)
            picks = sorted({skus[int(i)] for i in self.rng.integers(0, len(skus), 15)})
            query = "&".join(f"sku={s}" for s in picks)
            status, levels = await self.call("GET", f"/v1/stores/{store_id}/stock?{query}", headers)
            changes = []
            if status == 200:
                for item in levels["items"]:
                    if item["on_hand"] < 12 and item["sku"] in skus[: self.config.popular_skus]:
                        changes.append({"sku": item["sku"], "delta": 40})
                    elif item["available"] > 0:
                        changes.append(
                            {
                                "sku": item["sku"],
                                "delta": -min(item["available"], int(self.rng.integers(1, 3))),
                            }
                        )
            if changes:
                version = self.shop_versions[store_id] + 1
                status, _ = await self.call(
                    "PATCH", f"/v1/stores/{store_id}/stock", headers, {"version": version, "changes": changes}
                )
                if status == 200:
                    self.shop_versions[store_id] = version
                    self.stock_syncs += 1
            if self._now_s < self.config.minutes * 60.0:
                self.schedule(self._now_s + self.config.restock_every_s, self._shop_sync(store_id))

        return sync

    async def _together(self, calls) -> list:
        """Independent requests (different couriers) at one instant, sent concurrently."""
        gate = asyncio.Semaphore(16)

        async def bounded(call):
            async with gate:
                return await call

        return await asyncio.gather(*(bounded(c) for c in calls))

    async def _take_tasks(self, courier: CourierSim, status: int, tasks: dict) -> None:
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
            await self.call(
                "POST",
                f"/v1/couriers/{courier.plan.courier_id}/events",
                courier.headers,
                {"order_id": first["order_ids"][0], "type": "rejected"},
            )
            return
        self._ride(courier, tasks["stops"])

    def _move_to(self, courier: CourierSim, stop: dict) -> None:
        """Ride (still idle, still assignable) to where dispatch asks the courier to wait."""
        target = (stop["location"]["lon"], stop["location"]["lat"])
        if courier.heading == target:
            return
        courier.heading = target
        t = self._now_s
        lon, lat = courier.position(t)
        points = [(t, lon, lat)]
        for x, y in [*((stop.get("route") or {}).get("coordinates") or []), list(target)]:
            t += _metres((points[-1][1], points[-1][2]), (x, y)) / self.config.courier_speed_mps
            points.append((t, x, y))
        courier.waypoints = points
        self.repositions += 1

    def _ride(self, courier: CourierSim, stops: list[dict]) -> None:
        """Plan the ride along the service's route geometry and schedule each event on it."""
        speed = self.config.courier_speed_mps
        t = self._now_s
        lon, lat = courier.position(t)
        points: list[tuple[float, float, float]] = [(t, lon, lat)]
        courier.busy = True
        courier.heading = None
        start = t
        for stop in stops:
            line = (stop.get("route") or {}).get("coordinates") or []
            for x, y in line:
                t += _metres((points[-1][1], points[-1][2]), (x, y)) / speed
                points.append((t, x, y))
            dest = stop["location"]
            t += _metres((points[-1][1], points[-1][2]), (dest["lon"], dest["lat"])) / speed
            points.append((t, dest["lon"], dest["lat"]))
            if stop["kind"] == "pickup":
                order_ids = stop["order_ids"]
                self.schedule(t, self._event(courier, order_ids[0], "arrived_store"))
                ready = max((self.records[o].packed_s or t) for o in order_ids if o in self.records)
                t = max(t + 60.0, ready)
                for order_id in order_ids:
                    self.schedule(t, self._event(courier, order_id, "picked_up"))
                t += 60.0
            else:
                t += 60.0
                for order_id in stop["order_ids"]:
                    self.schedule(t, self._event(courier, order_id, "delivered"))
                t += 60.0
            points.append((t, dest["lon"], dest["lat"]))
        courier.waypoints = points
        end = t

        async def done() -> None:
            courier.busy = False
            courier.busy_s += end - start
            courier.lon, courier.lat = points[-1][1], points[-1][2]
            courier.waypoints = []

        self.schedule(end + 0.001, done)

    def _event(self, courier: CourierSim, order_id: str, kind: str):
        async def event() -> None:
            record = self.records.get(order_id)
            if record is None or record.cancelled:
                return
            status, _ = await self.call(
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
                record.delivered_s = self._now_s
                record.courier_id = courier.plan.courier_id
                courier.delivered += 1

        return event
