"""The demo's simulator run: shops, the order system and couriers playing the day through the HTTP API.

The service runs on a virtual clock. The runner keeps one queue of timed actions and, for
each, sets the clock to its time and performs it (an HTTP request, or a dispatch round), one
at a time in a fixed order, so the same seed always plays the same day. The actors live in
their own modules: `shops`, `order_system` and `couriers`, over `api_client` and `events`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np

from dispatch.clock import VirtualClock
from dispatch.sim.api_client import ApiClient, Headers
from dispatch.sim.city import City
from dispatch.sim.couriers import Couriers, CourierSim
from dispatch.sim.events import Action, EventQueue
from dispatch.sim.ops_console import LOOK_EVERY_S, OpsConsole
from dispatch.sim.order_system import OrderRecord, OrderSystem
from dispatch.sim.scenario import RainDay
from dispatch.sim.shops import Shops
from geo.network import RoadNetwork

__all__ = ["CourierSim", "DemoResult", "DemoRunner", "OrderRecord", "Sample"]

PROGRESS_EVERY_S = 600.0
LOCAL_TZ = "Asia/Shanghai"


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
    summary: dict[str, Any]
    end_s: float
    wall_s: float
    requests: int
    repositions: int = 0
    console: OpsConsole | None = None  # the operator of a scenario, with what it saw and did
    busy_stores: dict[str, tuple[float, float]] = field(default_factory=dict)


def _say_on_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DemoRunner:
    """Composes the day's actors on one event queue and plays it to the end."""

    def __init__(
        self,
        *,
        city: City,
        session: aiohttp.ClientSession,
        base_url: str,
        operator: Headers,
        clock: VirtualClock,
        dispatch_round: Callable[[], Awaitable[object]],
        speed: float = 0.0,
        progress: Callable[[str], None] | None = None,
        rain: RainDay | None = None,
    ) -> None:
        self.city = city
        self.config = city.config
        self.dispatch_round = dispatch_round
        self.speed = speed
        self.say = progress or _say_on_stderr
        rng = np.random.default_rng(self.config.seed + 1)  # one stream, shared in a fixed order
        self.api = ApiClient(session=session, base_url=base_url, operator=operator)
        self.events = EventQueue(config=self.config, clock=clock)
        self.shops = Shops(shops=city.shops, config=self.config, api=self.api, events=self.events, rng=rng)
        self.orders = OrderSystem(
            plans=city.orders, api=self.api, events=self.events, start_packing=self.shops.start_packing
        )
        self.couriers = Couriers(
            config=self.config, api=self.api, events=self.events, records=self.orders.records, rng=rng
        )
        self.samples: list[Sample] = []
        self.rain = rain
        self.console = OpsConsole(api=self.api, lever=rain.lever) if rain is not None else None

    async def setup(self) -> None:
        """Register shops and couriers, then queue the day's first actions."""
        self.say(f"setting up {len(self.city.shops)} shops and {len(self.city.couriers)} couriers")
        for shop in self.city.shops:
            await self.shops.register(shop)
        await self.orders.sign_in()
        for plan in self.city.couriers:
            await self.couriers.register(plan, self.network)
        self.orders.schedule_orders()
        self.shops.schedule_syncs()
        self.events.schedule(0.0, self._tick())
        self.couriers.schedule_positions()
        if self.rain is not None:
            self._schedule_rain(self.rain)

    async def run(self, network: RoadNetwork) -> DemoResult:
        """Play the day until every order is settled (or the drain time runs out)."""
        self.network = network
        started = time.perf_counter()
        await self.setup()
        await self._play()
        # settle: one more round so the sweeper has seen the final state, then the summary
        await self.dispatch_round()
        _, summary = await self.api.call("GET", "/v1/ops/summary", self.api.operator)
        self._report_progress(self.events.now_s)
        return DemoResult(
            self.orders.records,
            self.couriers.couriers,
            self.samples,
            self.couriers.rejected_tasks,
            self.shops.stock_syncs,
            summary,
            self.events.now_s,
            time.perf_counter() - started,
            self.api.requests,
            self.couriers.repositions,
            self.console,
            dict(self.shops.busy),
        )

    async def _play(self) -> None:
        """Run the queued actions in time order, reporting progress every ten simulated minutes."""
        window_s = self.config.minutes * 60.0
        limit_s = window_s + self.config.max_drain_min * 60.0
        next_report = 0.0
        wall0 = time.perf_counter()
        while self.events:
            t_s, action = self.events.pop()
            if t_s > limit_s:
                break
            if self.speed > 0:
                lag = t_s / self.speed - (time.perf_counter() - wall0)
                if lag > 0:
                    await asyncio.sleep(lag)
            self.events.advance_to(t_s)
            await action()
            if t_s >= next_report:
                self._report_progress(t_s)
                next_report += PROGRESS_EVERY_S
            if t_s > window_s and self.orders.open_orders() == 0 and self.orders.is_all_tried():
                break

    def _report_progress(self, t_s: float) -> None:
        local = self.events.local_time(t_s).astimezone(ZoneInfo(LOCAL_TZ)).strftime("%H:%M")
        records = self.orders.records.values()
        placed = sum(1 for r in records if r.status == 201)
        delivered = [r for r in records if r.delivered_s is not None]
        late = sum(1 for r in delivered if (ctd := r.click_to_door_s) is not None and ctd > 1800)
        refused = sum(1 for r in records if r.status in (409, 422))
        self.say(
            f"[{local}] placed {placed:5d}  delivered {len(delivered):5d}  late {late:4d}  "
            f"refused {refused:3d}  open {self.orders.open_orders():4d}  "
            f"couriers busy {self.couriers.busy_count():3d}/{self.couriers.on_shift_count()}"
        )

    def _tick(self) -> Action:
        """A dispatch round, the idle couriers taking their tasks, a sample; again after tick_s."""

        async def tick() -> None:
            await self.dispatch_round()
            await self.couriers.take_tasks()
            now_s = self.events.now_s
            busy, on_shift = self.couriers.busy_count(), self.couriers.on_shift_count()
            self.samples.append(Sample(now_s, self.orders.open_orders(), busy, on_shift))
            self.events.schedule(now_s + self.config.tick_s, self._tick())

        return tick

    def _schedule_rain(self, rain: RainDay) -> None:
        """The rain day's extras: the shops that go busy, and the operator's first glance."""
        self.shops.schedule_rush(
            at_s=rain.busy_from_s, until_s=rain.weather.rain_until_s, stores=rain.busy_stores,
            extra_pick_minutes=rain.extra_pick_minutes,
        )  # fmt: skip
        self.events.schedule(LOOK_EVERY_S, self._look())

    def _look(self) -> Action:
        """The operator glances at the console; again every few minutes while orders come in."""

        async def look() -> None:
            assert self.console is not None
            now_s = self.events.now_s
            until = self.events.local_time(now_s + self.console.mode_for_s).isoformat()
            for switch in await self.console.look(now_s=now_s, until_iso=until):
                verb = f"sets on_overload {switch.lever} in" if switch.lever else "would act (watching) in"
                self.say(f"operator: {verb} zone {switch.zone}: 30-min on-time share {switch.share:.1%}")
            if now_s + LOOK_EVERY_S < self.config.minutes * 60.0:
                self.events.schedule(now_s + LOOK_EVERY_S, self._look())

        return look
