"""Shelf truth: a store's pick result, and what a short pick does to the order (DESIGN.md section 15).

The re-sourcing store is planned before the write, from memory (store choice and the courier
outlook, the same prediction intake promised on); the write reserves it or, when the line was
lost meanwhile, drops the line. A repeated pick result is answered from the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Protocol

from dispatch.catalog.load import StoreLoad
from dispatch.errors import InvalidPick
from dispatch.orders.events import Actor
from dispatch.orders.leg_planner import LegPlanner
from dispatch.orders.legs import LegPlan, OnShort, PickOutcome, ShelfLeg
from dispatch.orders.lifecycle import HOLDS_RESERVATION
from dispatch.orders.promise import PromiseErrors
from stores.stock_view import StockView


class PickRecords(Protocol):
    async def leg_at_store(self, order_id: str, store_id: str) -> ShelfLeg: ...

    async def record(
        self, leg: ShelfLeg, picked: Mapping[str, int], *, plan: LegPlan | None, now: datetime, actor: Actor
    ) -> PickOutcome: ...


class ShelfObserver(Protocol):
    def pick_shortfall(self, zone: str, action: str, units: int) -> None: ...

    def outcome(self, zone: str, outcome: str, delivery_s: float | None = None) -> None: ...


def check_pick(lines: Mapping[str, int], picked: Mapping[str, int]) -> dict[str, int]:
    """The units missing per SKU; refuses a SKU the leg does not hold or more than it holds."""
    unknown = sorted(set(picked) - set(lines))
    if unknown:
        raise InvalidPick(f"this leg holds no {', '.join(unknown)}", skus=unknown)
    over = sorted(sku for sku, n in picked.items() if n > lines[sku])
    if over:
        raise InvalidPick(f"picked more than the leg holds: {', '.join(over)}", skus=over)
    return {sku: qty - picked[sku] for sku, qty in lines.items() if sku in picked and picked[sku] < qty}


class ShelfTruth:
    def __init__(
        self,
        *,
        picks: PickRecords,
        planner: LegPlanner,
        stock_view: StockView,
        load: StoreLoad,
        metrics: ShelfObserver,
        wake_dispatch: Callable[[], None] | None = None,
        errors: PromiseErrors | None = None,
    ) -> None:
        self.errors = errors or PromiseErrors()  # a new leg must arrive by the promise with this margin
        self.wake_dispatch = wake_dispatch  # a new leg is dispatched at once, not at the next interval
        self.picks = picks
        self.planner = planner
        self.stock_view = stock_view
        self.load = load
        self.metrics = metrics

    async def leg(self, order_id: str, store_id: str) -> ShelfLeg:
        """The store's leg of the order (NotFound when the store has none)."""
        return await self.picks.leg_at_store(order_id, store_id)

    async def pick_result(
        self, leg: ShelfLeg, picked: Mapping[str, int], *, now: datetime, actor: Actor
    ) -> dict:
        """Record what the shelf gave for ``leg``; the answer says what became of any missing units."""
        missing = check_pick(leg.lines, picked) if leg.pick_result is None else {}
        plan = None
        if missing and leg.on_short is OnShort.RESOURCE and leg.status in HOLDS_RESERVATION:
            margin = timedelta(seconds=self.errors.margin_s(leg.zone))
            plan = self.planner.resource(
                leg.drop_node, missing, now=now, exclude=leg.order_stores, deliver_by=leg.promised_by - margin
            )
        done = await self.picks.record(leg, picked, plan=plan, now=now, actor=actor)
        if done.changed:
            self._believe(leg, done.answer, plan)
        if done.outcome is not None:
            self.metrics.outcome(leg.zone, done.outcome)
        return done.answer

    def _believe(self, leg: ShelfLeg, answer: dict, plan: LegPlan | None) -> None:
        """What this process believes after a short pick: nothing more of a short SKU at that
        store until its next sync, and the new leg's stock and queue."""
        missing = answer["missing"]
        if not missing:
            return
        for line in missing:
            self.stock_view.set_available(leg.store_id, line["sku"], 0)
        if answer["action"] == "resourced" and plan is not None:
            for sku, qty in plan.lines:
                self.stock_view.adjust(plan.store_id, sku, -qty)
            self.load.order_reserved(plan.store_id)
            if self.wake_dispatch is not None:
                self.wake_dispatch()
        self.metrics.pick_shortfall(leg.zone, answer["action"], sum(line["quantity"] for line in missing))
