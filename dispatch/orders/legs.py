"""Legs (DESIGN.md section 15): an order is one or more legs, each a store and its lines (pure).

A leg is what the round dispatches: it is reserved, assigned, picked up and delivered on its
own. The first leg carries the order's id; a further leg is ``<order_id>/<n>`` — '/' never
appears in a client's id, so a leg's id cannot collide with an order's. The order's status is
read from its legs: delivered when its last leg is, on its way while any leg is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatch.clock import iso
from dispatch.engine.timing import RouteTiming
from dispatch.orders.lifecycle import OrderStatus

S = OrderStatus
Trip = tuple[int, RouteTiming]  # the courier outlook's trip for a leg: (courier index, timing)
# how far a leg has come, for "the order is as far as its slowest leg"
_PROGRESS = {S.PLACED: 0, S.RESERVED: 1, S.HELD: 1, S.ASSIGNED: 2, S.PICKED_UP: 3, S.DELIVERED: 4}


class OnShort(StrEnum):
    """What the order system asked for when a store's shelf holds less than the leg reserved."""

    RESOURCE = "resource"  # another store that can still deliver by the promise, else drop the line
    DROP_LINE = "drop_line"  # go on without the missing units
    CANCEL = "cancel"  # cancel the whole order, every reservation released


def leg_id(order_id: str, leg_no: int) -> str:
    """The id under which a leg is dispatched (the first leg is the order itself)."""
    return order_id if leg_no == 1 else f"{order_id}/{leg_no}"


def order_of(unit_id: str) -> str:
    """The order a leg id belongs to."""
    return unit_id.split("/", 1)[0]


def leg_no(unit_id: str) -> int:
    """The number of the leg a leg id names (1: the order's own id)."""
    _, _, n = unit_id.partition("/")
    return int(n) if n else 1


@dataclass(frozen=True, slots=True)
class Leg:
    """One leg as ``GET /v1/orders/{id}`` shows it."""

    leg_no: int
    store_id: str
    status: OrderStatus
    courier_id: str | None
    lines: tuple[tuple[str, int], ...]
    predicted_delivery_at: datetime | None = None
    picked_up_at: datetime | None = None
    delivered_at: datetime | None = None

    def as_json(self) -> dict:
        return {
            "leg": self.leg_no,
            "store_id": self.store_id,
            "status": self.status.value,
            "courier_id": self.courier_id,
            "items": [{"sku": sku, "quantity": qty} for sku, qty in self.lines],
            "predicted_delivery_at": iso(self.predicted_delivery_at),
            "picked_up_at": iso(self.picked_up_at),
            "delivered_at": iso(self.delivered_at),
        }


def order_status(legs: Sequence[Leg]) -> OrderStatus:
    """The order's status from its legs: a dropped (cancelled) leg does not count unless every leg
    is; a failed leg fails the order; otherwise the order is as far as its slowest leg."""
    live = [leg.status for leg in legs if leg.status is not S.CANCELLED]
    if not live:
        return S.CANCELLED
    if S.FAILED in live:
        return S.FAILED
    return min(live, key=lambda s: _PROGRESS[s])


def delivered_at(legs: Sequence[Leg]) -> datetime | None:
    """When the order reached the door: when its last leg did (None while any leg is out)."""
    live = [leg for leg in legs if leg.status is not S.CANCELLED]
    if not live or any(leg.delivered_at is None for leg in live):
        return None
    return max(leg.delivered_at for leg in live if leg.delivered_at is not None)


@dataclass(frozen=True, slots=True)
class LegPlan:
    """A leg to reserve: the store, its lines, when it is ready and when it reaches the door."""

    store_id: str
    zone: str
    lines: tuple[tuple[str, int], ...]
    ready_at: datetime
    predicted: datetime
    trip: Trip | None  # the outlook's trip, booked once the leg is placed

    def as_json(self) -> dict:
        return {"store_id": self.store_id, "items": [{"sku": s, "quantity": q} for s, q in self.lines]}


@dataclass(frozen=True, slots=True)
class ShelfLeg:
    """The store's leg of an order, as a pick result needs it."""

    leg_id: str
    order_id: str
    leg_no: int
    store_id: str
    zone: str
    status: OrderStatus
    lines: dict[str, int]
    drop_node: int
    promised_by: datetime
    on_short: OnShort
    order_stores: frozenset[str]  # every store the order already has a leg at
    pick_result: dict | None


@dataclass(frozen=True, slots=True)
class PickOutcome:
    answer: dict
    changed: bool  # False for a repeat
    outcome: str | None = None  # the order's outcome, when the short pick closed it
