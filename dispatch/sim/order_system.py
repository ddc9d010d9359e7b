"""The demo's order system: placing and cancelling orders, and the record kept of each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dispatch.orders.legs import leg_id
from dispatch.sim.api_client import ApiClient, Headers
from dispatch.sim.city import OrderPlan
from dispatch.sim.events import Action, EventQueue


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
    # per leg: the drop-off time the courier's task planned when the courier took the route
    planned_on_route_s: dict[str, float] = field(default_factory=dict)
    promised_s: float | None = None  # the promise the order was given (sim seconds)
    refusal: str | None = None  # the error code of a refused order (out_of_stock, over_capacity, ...)
    extension_min: int = 0  # minutes a zone mode added to the promise
    # legs (DESIGN.md section 15): leg id → store and lines; the order is delivered with its last leg
    legs: dict[str, str] = field(default_factory=dict)
    leg_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    open_legs: set[str] = field(default_factory=set)
    leg_packed_s: dict[str, float] = field(default_factory=dict)
    split: bool = False  # placed as two legs
    short_picks: int = 0
    legs_added: int = 0  # re-sourced after a short pick
    lines_dropped: int = 0

    def add_leg(self, unit: str, store_id: str, lines: dict[str, int]) -> None:
        self.legs[unit] = store_id
        self.leg_lines[unit] = dict(lines)
        self.open_legs.add(unit)

    def leg_delivered(self, unit: str, now_s: float) -> None:
        """A leg reached the door; the order did when its last open leg does."""
        self.open_legs.discard(unit)
        if not self.open_legs:
            self.delivered_s = now_s

    @property
    def click_to_door_s(self) -> float | None:
        """Seconds from placement to delivery; None until delivered."""
        if self.placed_s is None or self.delivered_s is None:
            return None
        return self.delivered_s - self.placed_s

    @property
    def is_open(self) -> bool:
        """Placed, neither cancelled nor delivered yet."""
        return self.status == 201 and not self.cancelled and self.delivered_s is None


class OrderSystem:
    """The shop front's backend: places each planned order at its time, cancels some later."""

    def __init__(
        self,
        *,
        plans: list[OrderPlan],
        api: ApiClient,
        events: EventQueue,
        start_packing: Callable[[OrderRecord, str], None],
    ) -> None:
        self.api = api
        self.events = events
        self.start_packing = start_packing
        self.records = {o.order_id: OrderRecord(o) for o in plans}
        self.headers: Headers = {}

    async def sign_in(self) -> None:
        """Get the order system's token."""
        self.headers = await self.api.token("order_system")

    def schedule_orders(self) -> None:
        """Every planned order is placed at its planned time."""
        for record in self.records.values():
            self.events.schedule(record.plan.at_s, self._place(record))

    def open_orders(self) -> int:
        """Orders placed and still neither cancelled nor delivered."""
        return sum(1 for r in self.records.values() if r.is_open)

    def is_all_tried(self) -> bool:
        """Every planned order has been placed or answered."""
        return all(r.placed_s is not None or r.status for r in self.records.values())

    def _place(self, record: OrderRecord) -> Action:
        async def place() -> None:
            plan = record.plan
            body: dict[str, object] = {
                "order_id": plan.order_id,
                "items": [{"sku": s, "quantity": q} for s, q in plan.lines],
                "drop_off": {"lat": plan.lat, "lon": plan.lon},
            }
            if plan.allow_split:
                body["allow_split"] = True
            status, payload = await self.api.call("POST", "/v1/orders", self.headers, body)
            record.status = status
            if status != 201:
                record.refusal = payload.get("error") if isinstance(payload, dict) else None
                return
            now_s = self.events.now_s
            record.store_id = payload["store_id"]
            record.placed_s = now_s
            record.predicted_s = self.events.sim_s(payload["predicted_delivery_at"])
            record.promised_s = self.events.sim_s(payload["promised_by"])
            record.extension_min = int(payload.get("promise_extension_minutes", 0))
            legs = payload.get("legs") or [
                {"store_id": payload["store_id"], "items": [{"sku": s, "quantity": q} for s, q in plan.lines]}
            ]
            record.split = len(legs) > 1
            for n, leg in enumerate(legs, start=1):
                unit = leg_id(plan.order_id, n)
                record.add_leg(unit, leg["store_id"], {i["sku"]: i["quantity"] for i in leg["items"]})
                self.start_packing(record, unit)
            if plan.cancel_after_s is not None:
                self.events.schedule(now_s + plan.cancel_after_s, self._cancel(record))

        return place

    def _cancel(self, record: OrderRecord) -> Action:
        async def cancel() -> None:
            if record.picked or record.delivered_s is not None:
                return
            status, _ = await self.api.call("POST", f"/v1/orders/{record.plan.order_id}/cancel", self.headers)
            if status == 200:
                record.cancelled = True

        return cancel
