"""The dispatch loop: every few seconds, one round — read the open world, plan, commit, sweep."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.clock import Clock
from dispatch.couriers.model import COURIER_STATES, OpenOrderRow, RouteCommit
from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder, RoundPlan, Route
from dispatch.engine.plan import plan_round
from dispatch.round.inputs import (
    CourierView,
    courier_eta_by_store,
    engine_couriers,
    engine_orders,
    epoch,
    from_epoch,
)
from dispatch.round.outlook import CourierOutlook, LatestOutlook
from dispatch.round.ports import (
    HeldOrders,
    Retention,
    RoundObserver,
    RoundState,
    SilentCouriers,
    StoreStatusRefresh,
    ZoneClaims,
    ZoneModeRefresh,
)
from dispatch.round.travel import NetworkTravel
from dispatch.settings import Policy
from stores.catalog import StoreCatalog
from stores.model import Store

log = logging.getLogger("flashdispatch.loop")
DEMAND_WINDOW = timedelta(hours=1)


def _node(location: Hashable) -> int:
    """The service gives the engine road node numbers as locations."""
    if not isinstance(location, int):
        raise TypeError(f"expected a road node number, got {location!r}")
    return location


@dataclass
class RoundReport:
    """What one round did (tests and the demo read this instead of sleeping)."""

    zones: tuple[str, ...] = ()
    open_orders: int = 0
    committed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (courier, orders)
    lost_claims: int = 0
    late: int = 0
    failed: int = 0
    released: list[str] = field(default_factory=list)
    holds_ended: list[str] = field(default_factory=list)
    statuses_ended: list[str] = field(default_factory=list)  # stores back online by themselves
    modes_ended: list[str] = field(default_factory=list)  # zones back to normal by themselves
    unassigned: tuple[str, ...] = ()
    repositions: dict[str, int] = field(default_factory=dict)  # courier -> road node to wait at
    erased_dropoffs: int | None = None  # retention purge this round (None: not due)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class RoundPorts:
    """Everything a round reads from and writes to outside memory; the upkeep parts are optional."""

    state: RoundState
    couriers: SilentCouriers
    lease: ZoneClaims
    retention: Retention | None = None
    holds: HeldOrders | None = None
    store_statuses: StoreStatusRefresh | None = None
    zone_modes: ZoneModeRefresh | None = None
    load_stores: Callable[[], Awaitable[list[Store]]] | None = None  # reload stores changed elsewhere
    transient_errors: tuple[type[BaseException], ...] = ()  # the database is away: skip the round


class DispatchLoop:
    """One round at a time for the zones this process holds."""

    def __init__(
        self,
        ports: RoundPorts,
        *,
        keeper: CatalogKeeper,
        load: StoreLoad,
        clock: Clock,
        metrics: RoundObserver,
        policy: Policy,
        engine_policy: EnginePolicy | None = None,
        outlook: LatestOutlook | None = None,
    ) -> None:
        self.ports = ports
        self.state = ports.state
        self.couriers = ports.couriers
        self.lease = ports.lease
        self.retention = ports.retention
        self.holds = ports.holds
        self.store_statuses = ports.store_statuses
        self.zone_modes = ports.zone_modes
        self._load_stores = ports.load_stores
        self.transient_errors = ports.transient_errors
        self.outlook = outlook or LatestOutlook()  # the round's plan, for intake's predictions
        self._stores_seen: tuple[int, object] | None = None
        self.keeper = keeper
        self.load = load
        self.clock = clock
        self.metrics = metrics
        self.policy = policy
        self.engine_policy = engine_policy or EnginePolicy(round_interval_s=policy.dispatch_interval_s)
        self._lock = asyncio.Lock()
        self._gauged: set[str] = set()  # zones whose gauges this process reports
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Run the next round now rather than at the end of the interval (a leg was just added)."""
        self._woken.set()

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except self.transient_errors as exc:  # the database is away: the next round tries again
                log.warning("dispatch round skipped, database unavailable: %s: %s", type(exc).__name__, exc)
            except Exception:  # a failed round is logged and the next one tries again
                log.exception("dispatch round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), timeout=self.policy.dispatch_interval_s)
            self._woken.clear()

    async def tick(self) -> RoundReport:
        """One round for every zone this process holds the lease of."""
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> RoundReport:
        """Read the open world, plan, commit, predict, report: the stages in order."""
        started = time.perf_counter()
        now = self.clock.now()
        catalog = await self._current_catalog()
        zones = await self.lease.claim(catalog.zones() | await self._courier_zones())
        self._zero_released(zones)
        report = RoundReport(zones=tuple(sorted(zones)))
        if self.retention is not None:
            report.erased_dropoffs = await self.retention.run_if_due(now)
        if not zones:
            return report
        await self._sweep(now, report)
        orders, view = await self._read_world(zones, now, report)
        report.open_orders = len(orders)
        travel = NetworkTravel(self.keeper.network, catalog)
        hotspots = await self._hotspots(zones, catalog, now)
        plan = await self._plan(
            orders, view, catalog=catalog, travel=travel, hotspots=hotspots, now=now
        )
        predicted = await self._apply(plan, orders, view, catalog=catalog, now=now, report=report)
        self.outlook.current = CourierOutlook.after(
            plan,
            view.states,
            dropoffs={row.order_id: row.drop_node for row in orders},
            catalog=catalog,
            travel=travel,
            policy=self.engine_policy,
        )
        self._refresh_load(orders, view, catalog, now)
        self._gauges(zones, orders, predicted, view, now)
        report.duration_s = time.perf_counter() - started
        self.metrics.round_finished(zones, duration_s=report.duration_s, finished_at=time.time())
        return report

    async def _read_world(
        self, zones: set[str], now: datetime, report: RoundReport
    ) -> tuple[list[OpenOrderRow], CourierView]:
        """Open orders and couriers; couriers gone silent hand their unpicked orders back first."""
        orders = await self.state.open_orders(sorted(zones))
        rows = await self.state.couriers(sorted(zones))
        view = engine_couriers(
            rows,
            network=self.keeper.network,
            now=now,
            silence_s=self.policy.courier_silence_s,
            max_snap_m=self.policy.max_snap_m,
            default_shift_s=self.policy.default_shift_s,
            after_handover_s=self.engine_policy.dropoff_half_s,
        )
        if view.silent:
            report.released += await self.couriers.release_silent(view.silent, now=now)
            if report.released:
                orders = await self.state.open_orders(sorted(zones))
        return orders, view

    async def _plan(
        self,
        orders: list[OpenOrderRow],
        view: CourierView,
        *,
        catalog: StoreCatalog,
        travel: NetworkTravel,
        hotspots: dict[Hashable, float],
        now: datetime,
    ) -> RoundPlan:
        """The engine's plan. An order an operator gave to a courier is planned for that courier
        alone (and waits while it is busy); that courier takes no other order meanwhile."""
        waiting = engine_orders(orders, catalog, aim_s=self.policy.sla_minutes * 60.0)
        pinned = {row.order_id: row.pinned_courier_id for row in orders if row.pinned_courier_id}
        own: dict[str, list[OpenOrder]] = {}
        for order in waiting:
            if order.order_id in pinned:
                own.setdefault(pinned[order.order_id], []).append(order)
        free = [o for o in waiting if o.order_id not in pinned]
        states = {c.courier_id: c for c in view.states}

        def plan(part: Sequence[OpenOrder], couriers: Sequence[CourierState], spots: dict) -> RoundPlan:
            return plan_round(
                orders=part, couriers=couriers, travel=travel, now=epoch(now), policy=self.engine_policy,
                hotspots=spots,
            )  # fmt: skip

        def plan_all() -> RoundPlan:
            parts = [plan(o, [states[c]], {}) for c, o in sorted(own.items()) if c in states]
            main = plan(free, [c for c in view.states if c.courier_id not in own], hotspots)
            return RoundPlan(
                routes=tuple(r for p in [*parts, main] for r in p.routes),
                repositions=main.repositions,
                unassigned=tuple(sorted({*main.unassigned, *(u for p in parts for u in p.unassigned)})),
            )

        return await asyncio.to_thread(plan_all)

    async def _apply(
        self,
        plan: RoundPlan,
        orders: list[OpenOrderRow],
        view: CourierView,
        *,
        catalog: StoreCatalog,
        now: datetime,
        report: RoundReport,
    ) -> dict[str, float]:
        """Commit the routes that must leave now, store every prediction, place idle couriers."""
        report.unassigned = plan.unassigned
        predicted: dict[str, float] = {}
        drop_node = {row.order_id: row.drop_node for row in orders}
        for route in plan.routes:
            predicted.update(zip(route.order_ids, route.dropoff_at, strict=True))
            if route.committed and route.courier_id in view.idle:
                await self._commit(route, catalog, drop_node, now, report)
        times = [from_epoch(t) for t in predicted.values()]
        await self.state.update_predictions(list(predicted), times, now=now)
        committed = {courier for courier, _ in report.committed}
        report.repositions = {
            m.courier_id: _node(m.location)
            for m in plan.repositions
            if m.courier_id in view.idle and m.courier_id not in committed
        }
        await self.state.set_repositions(sorted(view.idle - committed), report.repositions)
        return predicted

    async def _current_catalog(self) -> StoreCatalog:
        if self._load_stores is not None:
            seen = await self.state.stores_signature()
            if seen != self._stores_seen:
                await self.keeper.rebuild(self._load_stores)
                self._stores_seen = seen
        return self.keeper.current

    async def _hotspots(
        self, zones: set[str], catalog: StoreCatalog, now: datetime
    ) -> dict[Hashable, float]:
        """Where orders came from in the last hour, by store node (prepositioning's demand)."""
        demand = await self.state.recent_demand(sorted(zones), since=now - DEMAND_WINDOW)
        spots: dict[Hashable, float] = {}
        for store_id, count in demand.items():
            position = catalog.position(store_id)
            if position is not None:
                node = int(catalog.nodes[position])
                spots[node] = spots.get(node, 0.0) + count
        return spots

    async def _courier_zones(self) -> set[str]:
        return set(await self.state.couriers_zones())

    async def _sweep(self, now: datetime, report: RoundReport) -> None:
        if self.holds is not None:
            report.holds_ended = await self.holds.release_expired(now=now)
        if self.store_statuses is not None:
            report.statuses_ended = await self.store_statuses.refresh_statuses(now=now)
        if self.zone_modes is not None:
            report.modes_ended = await self.zone_modes.refresh(now=now)
        for zone in await self.state.sweep_late(now=now):
            self.metrics.outcome(zone, "late")
            report.late += 1
        failed = await self.state.fail_unserved(
            now=now, placed_before=now - timedelta(seconds=self.policy.fail_after_s)
        )
        for zone, outcome in failed:
            report.failed += 1
            if outcome is not None:
                self.metrics.outcome(zone, outcome)

    async def _commit(
        self,
        route: Route,
        catalog: StoreCatalog,
        drop_node: dict[str, int],
        now: datetime,
        report: RoundReport,
    ) -> None:
        store = catalog.store(route.store_id)
        position = catalog.position(route.store_id)
        if store is None or position is None:  # the store left the catalog during the round
            return
        drops = [
            {"order_id": oid, "node": drop_node[oid], "dropoff_at": t}
            for oid, t in zip(route.order_ids, route.dropoff_at, strict=True)
        ]
        plan = {
            "store_node": int(catalog.nodes[position]),
            "depart_at": route.depart_at,
            "arrive_store_at": route.arrive_store_at,
            "pickup_at": route.pickup_at,
            "orders": drops,
            "free_at": route.free_at,
            "end_node": drops[-1]["node"],
        }
        commit = RouteCommit(
            courier_id=route.courier_id,
            store_id=route.store_id,
            zone=store.zone,
            order_ids=tuple(route.order_ids),
            depart_at=from_epoch(route.depart_at),
            arrive_store_at=from_epoch(route.arrive_store_at),
            pickup_at=from_epoch(route.pickup_at),
            predicted=tuple(from_epoch(t) for t in route.dropoff_at),
            plan=plan,
        )
        route_id = await self.state.commit_route(commit, now=now)
        if route_id is None:
            report.lost_claims += 1
            return
        report.committed.append((route.courier_id, route.order_ids))
        self.metrics.route_committed(store.zone)

    def _refresh_load(
        self, orders: list[OpenOrderRow], view: CourierView, catalog: StoreCatalog, now: datetime
    ) -> None:
        queued: dict[str, int] = {}
        for row in orders:
            if row.status in ("reserved", "assigned") and row.packed_at is None:
                queued[row.store_id] = queued.get(row.store_id, 0) + 1
        etas = courier_eta_by_store(view.states, catalog, now=now, default_s=self.load.default_courier_eta_s)
        self.load.replace(queued, etas)

    def _zero_released(self, zones: set[str]) -> None:
        """Zones no longer leased here read zero: panels take the max per zone across processes."""
        for zone in self._gauged - set(zones):
            self.metrics.zone_released(zone)
        self._gauged = set(zones)

    def _gauges(
        self,
        zones: set[str],
        orders: list[OpenOrderRow],
        predicted: dict[str, float],
        view: CourierView,
        now: datetime,
    ) -> None:
        t = epoch(now)
        in_flight: dict[str, dict[str, int]] = {zone: {} for zone in zones}
        at_risk: dict[str, int] = dict.fromkeys(zones, 0)
        for row in orders:
            if row.zone not in in_flight:
                continue
            stages = in_flight[row.zone]
            stages[row.status] = stages.get(row.status, 0) + 1
            eta = predicted.get(row.order_id, epoch(row.predicted_delivery_at))
            promised = epoch(row.promised_by)
            if (eta is not None and eta > promised) or t > promised:
                at_risk[row.zone] += 1
        statuses: dict[str, int] = {}
        for store in self.keeper.current.stores:
            statuses[store.status.state] = statuses.get(store.status.state, 0) + 1
        self.metrics.store_statuses(statuses)
        for zone in zones:
            couriers = {state: view.by_state.get((zone, state), 0) for state in COURIER_STATES}
            self.metrics.zone_state(zone, in_flight=in_flight[zone], at_risk=at_risk[zone], couriers=couriers)
