"""In-memory fakes for the service layer's ports: storage that keeps rows in dicts, an observer
that records every named fact it is told. Only for unit tests; the real adapters are tested
against PostgreSQL elsewhere."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from dispatch.couriers.model import (
    ActiveRoute,
    Courier,
    CourierRow,
    Delivery,
    OpenOrderRow,
    RouteCommit,
    RouteOrder,
)
from dispatch.errors import NotFound
from dispatch.orders.events import Actor
from dispatch.orders.lifecycle import OrderStatus, Step, check_step
from dispatch.orders.model import Order, Placement, PlaceResult
from stores.errors import StaleVersion
from stores.model import StockChange, StockLevel, Store, SyncResult


@dataclass
class RecordingObserver:
    """Every observer port at once: ``calls`` lists (method, args) in the order they came."""

    calls: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, (*args, *sorted(kwargs.items()))))

        return record

    def named(self, name: str) -> list[tuple[Any, ...]]:
        return [args for called, args in self.calls if called == name]


class InMemoryStock:
    """Placements against an in-memory shelf: all lines reserve, or none (like fd_place_order)."""

    def __init__(self, on_hand: Mapping[str, Mapping[str, int]]) -> None:
        self.on_hand = {s: dict(skus) for s, skus in on_hand.items()}
        self.reserved: dict[str, dict[str, int]] = {s: {} for s in on_hand}
        self.placed: dict[str, Placement] = {}
        self.calls = 0

    def available(self, store_id: str, sku: str) -> int:
        return self.on_hand.get(store_id, {}).get(sku, 0) - self.reserved.get(store_id, {}).get(sku, 0)

    async def place(self, placement: Placement) -> PlaceResult:
        self.calls += 1
        await asyncio.sleep(0)  # a round trip: other requests run meanwhile, as they would
        known = self.placed.get(placement.order_id)
        if known is not None:
            return PlaceResult("exists", known.digest, known.response)
        if any(self.available(placement.store_id, sku) < qty for sku, qty in placement.lines):
            return PlaceResult("race_lost")
        for sku, qty in placement.lines:
            held = self.reserved.setdefault(placement.store_id, {})
            held[sku] = held.get(sku, 0) + qty
        self.placed[placement.order_id] = placement
        return PlaceResult("placed", placement.digest, placement.response)


@dataclass
class InMemoryOrders:
    """Order records over the same shelf as the placements."""

    stock: InMemoryStock
    orders: dict[str, Order] = field(default_factory=dict)

    async def find_answer(self, order_id: str) -> PlaceResult | None:
        p = self.stock.placed.get(order_id)
        return None if p is None else PlaceResult("exists", p.digest, p.response)

    async def availability(self, store_id: str, skus: Sequence[str]) -> dict[str, int]:
        return {sku: max(self.stock.available(store_id, sku), 0) for sku in skus}

    async def availability_many(
        self, store_ids: Sequence[str], skus: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        return {s: await self.availability(s, skus) for s in store_ids}

    async def cancel(
        self, order_id: str, *, now: datetime, actor: Actor, reason: str | None = None
    ) -> tuple[Order, str | None, bool]:
        order = self.orders.get(order_id)
        if order is None:
            raise NotFound(f"no order {order_id!r}")
        if order.status is OrderStatus.CANCELLED:
            return order, None, False
        check_step(order_id, Step.CANCEL, order.status)
        for sku, qty in order.lines:
            self.stock.reserved[order.store_id][sku] -= qty
        outcome = None if order.outcome else "cancelled"
        order = replace(order, status=OrderStatus.CANCELLED, outcome=order.outcome or outcome)
        self.orders[order_id] = order
        return order, outcome, True


@dataclass
class InMemoryCouriers:
    """Courier records: shifts, positions, and a scripted answer for each task event."""

    couriers: dict[str, Courier] = field(default_factory=dict)
    routes: dict[str, ActiveRoute] = field(default_factory=dict)
    route_rows: dict[int, list[RouteOrder]] = field(default_factory=dict)
    delivered_answer: Delivery | None = None
    picked_answer: tuple[str, list[tuple[str, int]], bool] | None = None
    shifts: list[tuple[str, bool, datetime | None]] = field(default_factory=list)

    async def upsert(
        self, courier_id: str, *, name: str, zone: str, capacity: int, now: datetime
    ) -> tuple[Courier, bool]:
        created = courier_id not in self.couriers
        courier = Courier(courier_id, name, zone, capacity, False, None, None, None, None, None)
        self.couriers[courier_id] = courier
        return courier, created

    async def get(self, courier_id: str) -> Courier:
        if courier_id not in self.couriers:
            raise NotFound(f"no courier {courier_id!r}")
        return self.couriers[courier_id]

    async def set_shift(
        self, courier_id: str, *, on: bool, lat: float, lon: float, ends_at: datetime | None, now: datetime
    ) -> tuple[Courier, list[str]]:
        self.shifts.append((courier_id, on, ends_at))
        courier = replace(await self.get(courier_id), on_shift=on, shift_ends_at=ends_at, lat=lat, lon=lon)
        self.couriers[courier_id] = courier
        return courier, []

    async def add_positions(
        self, courier_id: str, positions: Sequence[tuple[float, float, datetime]]
    ) -> Courier:
        lat, lon, at = max(positions, key=lambda p: p[2])
        courier = replace(await self.get(courier_id), lat=lat, lon=lon, position_at=at)
        self.couriers[courier_id] = courier
        return courier

    async def active_route(self, courier_id: str) -> ActiveRoute | None:
        return self.routes.get(courier_id)

    async def route_orders(self, route_id: int) -> list[RouteOrder]:
        return self.route_rows.get(route_id, [])

    async def reject(self, courier_id: str, order_id: str, *, now: datetime) -> list[str]:
        return [order_id]

    async def arrived_store(self, courier_id: str, order_id: str, *, now: datetime) -> None:
        return None

    async def picked_up(
        self, courier_id: str, order_id: str, *, now: datetime
    ) -> tuple[str, list[tuple[str, int]], bool]:
        assert self.picked_answer is not None
        return self.picked_answer

    async def delivered(self, courier_id: str, order_id: str, *, now: datetime) -> Delivery:
        assert self.delivered_answer is not None
        return self.delivered_answer


@dataclass
class InMemoryStores:
    """Store records and versioned stock syncs."""

    stores: dict[str, Store] = field(default_factory=dict)
    stock: dict[str, dict[str, int]] = field(default_factory=dict)
    reserved: dict[str, dict[str, int]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)

    async def upsert_store(self, store: Store, *, now: datetime) -> tuple[Store, bool]:
        created = store.store_id not in self.stores
        self.stores[store.store_id] = store
        return store, created

    async def list_stores(self) -> list[Store]:
        return [self.stores[s] for s in sorted(self.stores)]

    async def get_store(self, store_id: str) -> Store:
        return self.stores[store_id]

    async def read_stock(
        self, store_id: str, *, skus: Sequence[str] | None = None, after: str | None = None, limit: int = 1000
    ) -> tuple[int, list[StockLevel]]:
        raise NotImplementedError  # the service never reads stock pages itself

    def _claim(self, store_id: str, version: int) -> None:
        stored = self.versions.get(store_id, 0)
        if version <= stored:
            raise StaleVersion(store_id, version, stored)
        self.versions[store_id] = version

    def _result(self, store_id: str, version: int, touched: Iterable[str]) -> SyncResult:
        held = self.reserved.get(store_id, {})
        on_hand = self.stock[store_id]
        short = [
            StockLevel(sku, on_hand.get(sku, 0), held[sku]) for sku in sorted(touched)
            if held.get(sku, 0) > on_hand.get(sku, 0)
        ]
        available = {sku: max(on_hand.get(sku, 0) - held.get(sku, 0), 0) for sku in touched}
        return SyncResult(store_id=store_id, version=version, skus=len(available),
                          shortfalls=tuple(short), available=available)

    async def replace_stock(
        self, store_id: str, *, version: int, items: Sequence[tuple[str, int]], now: datetime
    ) -> SyncResult:
        self._claim(store_id, version)
        self.stock[store_id] = dict(items)
        return self._result(store_id, version, self.stock[store_id])

    async def apply_changes(
        self, store_id: str, *, version: int, changes: Sequence[StockChange], now: datetime
    ) -> SyncResult:
        self._claim(store_id, version)
        shelf = self.stock.setdefault(store_id, {})
        for change in changes:
            if change.quantity is not None:
                shelf[change.sku] = change.quantity
            else:
                shelf[change.sku] = shelf.get(change.sku, 0) + (change.delta or 0)
        return self._result(store_id, version, [c.sku for c in changes])


@dataclass
class InMemoryRoundState:
    """The open world of a round, and what the round wrote."""

    orders: list[OpenOrderRow] = field(default_factory=list)
    courier_rows: list[CourierRow] = field(default_factory=list)
    committed: list[RouteCommit] = field(default_factory=list)
    predictions: dict[str, datetime] = field(default_factory=dict)
    lose_claims: bool = False
    late_zones: list[str] = field(default_factory=list)

    async def open_orders(self, zones: Sequence[str]) -> list[OpenOrderRow]:
        return [o for o in self.orders if o.zone in zones]

    async def couriers(self, zones: Sequence[str]) -> list[CourierRow]:
        return [c for c in self.courier_rows if c.zone in zones]

    async def couriers_zones(self) -> list[str]:
        return sorted({c.zone for c in self.courier_rows})

    async def recent_demand(self, zones: Sequence[str], *, since: datetime) -> dict[str, int]:
        return {}

    async def stores_signature(self) -> tuple[int, object]:
        return 0, None

    async def commit_route(self, route: RouteCommit, *, now: datetime) -> int | None:
        if self.lose_claims:
            return None
        self.committed.append(route)
        taken = set(route.order_ids)
        self.orders = [
            replace(o, status="assigned", courier_id=route.courier_id) if o.order_id in taken else o
            for o in self.orders
        ]
        return len(self.committed)

    async def update_predictions(
        self, order_ids: Sequence[str], predicted: Sequence[datetime], *, now: datetime
    ) -> int:
        self.predictions.update(zip(order_ids, predicted, strict=True))
        return 0

    async def set_repositions(self, idle: Sequence[str], targets: dict[str, int]) -> None:
        return None

    async def sweep_late(self, *, now: datetime) -> list[str]:
        zones, self.late_zones = self.late_zones, []
        return zones

    async def fail_unserved(self, *, now: datetime, placed_before: datetime) -> list[tuple[str, str | None]]:
        return []


class NoSilentCouriers:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def release_silent(self, courier_ids: Sequence[str], *, now: datetime) -> list[str]:
        self.asked += list(courier_ids)
        return []


class EveryZone:
    async def claim(self, zones: Iterable[str]) -> set[str]:
        return set(zones)
