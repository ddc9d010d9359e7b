"""The dispatch loop: every few seconds, one round — read the open world, plan, commit, sweep."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import timedelta

from dispatch.clock import Clock
from dispatch.engine.model import EnginePolicy, RoundPlan
from dispatch.engine.plan import plan_round
from dispatch.metrics import COURIER_STATES, STAGES, Metrics
from dispatch.postgres.couriers import PostgresCourierRepository
from dispatch.postgres.database import CONNECTION_ERRORS
from dispatch.postgres.dispatch_state import PostgresDispatchState
from dispatch.round_inputs import (
    courier_eta_by_store,
    engine_couriers,
    engine_orders,
    epoch,
    from_epoch,
)
from dispatch.settings import Policy
from dispatch.store_load import StoreLoad
from dispatch.travel import NetworkTravel
from dispatch.zone_lease import ZoneLease

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
    unassigned: tuple[str, ...] = ()
    repositions: dict[str, int] = field(default_factory=dict)  # courier -> road node to wait at
    erased_dropoffs: int | None = None  # retention purge this round (None: not due)
    duration_s: float = 0.0


class DispatchLoop:
    def __init__(
        self,
        *,
        state: PostgresDispatchState,
        couriers: PostgresCourierRepository,
        keeper,
        load: StoreLoad,
        lease: ZoneLease,
        clock: Clock,
        metrics: Metrics,
        policy: Policy,
        engine_policy: EnginePolicy | None = None,
        load_stores=None,
        retention=None,
    ) -> None:
        self.retention = retention  # dispatch.retention.DropoffRetention, or None
        self._load_stores = load_stores  # reload the catalog when another process changed stores
        self._stores_seen: tuple[int, object] | None = None
        self.state = state
        self.couriers = couriers
        self.keeper = keeper
        self.load = load
        self.lease = lease
        self.clock = clock
        self.metrics = metrics
        self.policy = policy
        self.engine_policy = engine_policy or EnginePolicy(round_interval_s=policy.dispatch_interval_s)
        self._lock = asyncio.Lock()
        self._gauged: set[str] = set()  # zones whose gauges this process reports

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except CONNECTION_ERRORS as exc:  # the database is away: the next round tries again
                log.warning("dispatch round skipped, database unavailable: %s: %s", type(exc).__name__, exc)
            except Exception:  # a failed round is logged and the next one tries again
                log.exception("dispatch round failed")
            await asyncio.sleep(self.policy.dispatch_interval_s)

    async def tick(self) -> RoundReport:
        """One round for every zone this process holds the lease of."""
        async with self._lock:
            return await self._tick()

    async def _tick(self) -> RoundReport:
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
        orders = await self.state.open_orders(sorted(zones))
        rows = await self.state.couriers(sorted(zones))
        view = engine_couriers(
            rows,
            network=self.keeper.network,
            now=now,
            silence_s=self.policy.courier_silence_s,
            max_snap_m=self.policy.max_snap_m,
        )
        if view.silent:
            report.released += await self.couriers.release_silent(view.silent, now=now)
            if report.released:
                orders = await self.state.open_orders(sorted(zones))
        waiting = engine_orders(orders, catalog)
        report.open_orders = len(orders)
        travel = NetworkTravel(self.keeper.network, catalog)
        hotspots = await self._hotspots(zones, catalog, now)
        plan: RoundPlan = await asyncio.to_thread(
            plan_round,
            orders=waiting,
            couriers=view.states,
            travel=travel,
            now=epoch(now),
            policy=self.engine_policy,
            hotspots=hotspots,
        )
        report.unassigned = plan.unassigned
        predicted: dict[str, float] = {}
        drop_node = {row.order_id: row.drop_node for row in orders}
        for route in plan.routes:
            predicted.update(zip(route.order_ids, route.dropoff_at, strict=True))
            if route.committed and route.courier_id in view.idle:
                await self._commit(route, catalog, drop_node, now, report)
        await self.state.update_predictions(list(predicted), [from_epoch(t) for t in predicted.values()])
        committed = {courier for courier, _ in report.committed}
        report.repositions = {
            m.courier_id: _node(m.location)
            for m in plan.repositions
            if m.courier_id in view.idle and m.courier_id not in committed
        }
        await self.state.set_repositions(sorted(view.idle - committed), report.repositions)
        self._refresh_load(orders, view, catalog, now)
        self._gauges(zones, orders, predicted, view, now)
        report.duration_s = time.perf_counter() - started
        for zone in zones:
            self.metrics.round_duration.labels(zone).observe(report.duration_s)
            self.metrics.rounds.labels(zone).inc()
            self.metrics.last_round.labels(zone).set(time.time())
        return report

    async def _current_catalog(self):
        if self._load_stores is not None:
            seen = await self.state.stores_signature()
            if seen != self._stores_seen:
                await self.keeper.rebuild(self._load_stores)
                self._stores_seen = seen
        return self.keeper.current

    async def _hotspots(self, zones, catalog, now) -> dict[Hashable, float]:
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

    async def _sweep(self, now, report: RoundReport) -> None:
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

    async def _commit(self, route, catalog, drop_node, now, report: RoundReport) -> None:
        store = catalog.store(route.store_id)
        position = catalog.position(route.store_id)
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
        route_id = await self.state.commit_route(
            courier_id=route.courier_id,
            store_id=route.store_id,
            zone=store.zone,
            order_ids=route.order_ids,
            depart_at=from_epoch(route.depart_at),
            arrive_store_at=from_epoch(route.arrive_store_at),
            pickup_at=from_epoch(route.pickup_at),
            predicted=[from_epoch(t) for t in route.dropoff_at],
            plan=plan,
            now=now,
        )
        if route_id is None:
            report.lost_claims += 1
            return
        report.committed.append((route.courier_id, route.order_ids))
        self.metrics.assignments.labels(store.zone).inc()

    def _refresh_load(self, orders, view, catalog, now) -> None:
        queued: dict[str, int] = {}
        for row in orders:
            if row.status in ("reserved", "assigned") and row.packed_at is None:
                queued[row.store_id] = queued.get(row.store_id, 0) + 1
        etas = courier_eta_by_store(view.states, catalog, now=now, default_s=self.load.default_courier_eta_s)
        self.load.replace(queued, etas)

    def _zero_released(self, zones) -> None:
        """Zones no longer leased here read zero: panels take the max per zone across processes."""
        for zone in self._gauged - set(zones):
            for stage in STAGES:
                self.metrics.orders_in_flight.labels(zone, stage).set(0)
            self.metrics.orders_at_risk.labels(zone).set(0)
            for state in COURIER_STATES:
                self.metrics.couriers.labels(zone, state).set(0)
        self._gauged = set(zones)

    def _gauges(self, zones, orders, predicted, view, now) -> None:
        t = epoch(now)
        for zone in zones:
            self.metrics.ensure_zone(zone)
            for stage in STAGES:
                self.metrics.orders_in_flight.labels(zone, stage).set(0)
            self.metrics.orders_at_risk.labels(zone).set(0)
            for state in COURIER_STATES:
                self.metrics.couriers.labels(zone, state).set(view.by_state.get((zone, state), 0))
        at_risk: dict[str, int] = {}
        for row in orders:
            if row.zone not in zones:
                continue
            self.metrics.orders_in_flight.labels(row.zone, row.status).inc()
            eta = predicted.get(row.order_id, epoch(row.predicted_delivery_at))
            promised = epoch(row.promised_by)
            if (eta is not None and eta > promised) or t > promised:
                at_risk[row.zone] = at_risk.get(row.zone, 0) + 1
        for zone, count in at_risk.items():
            self.metrics.orders_at_risk.labels(zone).set(count)
