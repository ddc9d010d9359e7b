"""Orders as values: what the order system asked for and what became of it."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

import orjson

from dispatch.clock import iso
from dispatch.orders.events import Actor, OrderEvent
from dispatch.orders.legs import Leg, delivered_at, order_status
from dispatch.orders.lifecycle import OrderStatus


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """A validated ``POST /v1/orders`` body."""

    order_id: str
    lines: tuple[tuple[str, int], ...]  # (sku, quantity), SKUs unique, sorted
    drop_lat: float
    drop_lon: float
    placed_at: datetime | None
    digest: str
    on_short: str | None = None  # resource | drop_line | cancel; None: the default (resource)
    allow_split: bool = False

    @property
    def line_map(self) -> dict[str, int]:
        return dict(self.lines)


# Where orjson's canonical bytes could differ from the standard library's (escapes; exponents —
# orjson writes 1e-05 as 0.00001 and 1e16 as 1e+16 —; NaN and infinities, which orjson writes as
# null), the standard library writes them.
_MAY_DIFFER = re.compile(rb"\\|[0-9][eE]|0\.0000|null")


def request_digest(body: dict) -> str:
    """Same parsed JSON → same digest, whatever the key order or whitespace.

    The digest is stored with the order and compared on every retry, so its bytes are those of
    ``json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`` for ever;
    orjson writes the same bytes several times faster for every body without a backslash, a
    number in exponent form or a null, and the standard library writes the rest.
    """
    try:
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    except (orjson.JSONEncodeError, TypeError):
        canonical = None  # a lone surrogate, an integer past 64 bits, deep nesting
    if canonical is None or _MAY_DIFFER.search(canonical):
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        canonical = text.encode("utf-8")
    return hashlib.sha256(canonical).hexdigest()


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    status: OrderStatus
    store_id: str
    zone: str
    courier_id: str | None
    route_id: int | None
    drop_lat: float | None
    drop_lon: float | None
    drop_node: int
    placed_at: datetime
    promised_by: datetime
    predicted_delivery_at: datetime
    ready_at: datetime
    packed_at: datetime | None
    picked_up_at: datetime | None
    delivered_at: datetime | None
    outcome: str | None
    failure_reason: str | None
    lines: tuple[tuple[str, int], ...] = ()
    events: tuple[OrderEvent, ...] = ()
    held_until: datetime | None = None  # a hold that ends by itself
    pinned_courier_id: str | None = None  # an operator asked for this courier
    promise_extension_minutes: int = 0  # what a zone mode added to the half-hour promise
    leg_of: str | None = None  # set on a further leg: the order it belongs to
    leg_no: int = 1
    legs: tuple[Leg, ...] = ()  # every leg, when read as the whole order

    def with_legs(self, legs: tuple[Leg, ...]) -> Order:
        """The whole order, read from its first leg's row and all its legs: as far as its slowest
        leg, delivered when its last one is, carrying every leg's lines."""
        if len(legs) <= 1:
            return replace(self, legs=legs)
        predicted = [leg.predicted_delivery_at for leg in legs if leg.predicted_delivery_at is not None]
        return replace(
            self,
            status=order_status(legs),
            delivered_at=delivered_at(legs),
            predicted_delivery_at=max(predicted, default=self.predicted_delivery_at),
            lines=_summed(line for leg in legs for line in leg.lines),
            legs=legs,
        )

    def store_lines(self) -> list[tuple[str, tuple[tuple[str, int], ...]]]:
        """(store, lines) of every leg; the order's own store and lines when read without its legs."""
        if not self.legs:
            return [(self.store_id, self.lines)]
        return [(leg.store_id, leg.lines) for leg in self.legs if leg.lines]

    def as_json(self) -> dict:
        """The order as ``GET /v1/orders/{id}`` returns it (also the ``order`` of every webhook);
        read as one leg (the store's queue), it is that leg under its order's id."""
        drop_off = {"lat": self.drop_lat, "lon": self.drop_lon} if self.drop_lat is not None else None
        body = {
            "order_id": self.leg_of or self.order_id,
            "leg": self.leg_no,
            "status": self.status.value,
            "store_id": self.store_id,
            "zone": self.zone,
            "courier_id": self.courier_id,
            "placed_at": iso(self.placed_at),
            "promised_by": iso(self.promised_by),
            "predicted_delivery_at": iso(self.predicted_delivery_at),
            "ready_at": iso(self.ready_at),
            "packed_at": iso(self.packed_at),
            "picked_up_at": iso(self.picked_up_at),
            "delivered_at": iso(self.delivered_at),
            "outcome": self.outcome,
            "failure_reason": self.failure_reason,
            "held_until": iso(self.held_until),
            "pinned_courier_id": self.pinned_courier_id,
            "promise_extension_minutes": self.promise_extension_minutes,
            "events": [e.as_json() for e in self.events],
            "items": [{"sku": sku, "quantity": qty} for sku, qty in self.lines],
            "drop_off": drop_off,
        }
        if self.legs:
            body["legs"] = [leg.as_json() for leg in self.legs]
        return body



def _summed(lines: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """Lines by SKU (a re-sourced line is in two legs), sorted."""
    total: dict[str, int] = {}
    for sku, qty in lines:
        total[sku] = total.get(sku, 0) + qty
    return tuple(sorted(total.items()))


@dataclass(frozen=True, slots=True)
class PlaceResult:
    kind: str  # placed | exists | race_lost
    digest: str | None = None
    response: dict | None = None


@dataclass(frozen=True, slots=True)
class Placement:
    """One order to place at one store (the arguments of ``PostgresOrderRepository.place``)."""

    order_id: str
    digest: str
    store_id: str
    zone: str
    lines: tuple[tuple[str, int], ...]
    drop_lat: float
    drop_lon: float
    drop_node: int
    placed_at: datetime
    promised_by: datetime
    predicted_delivery_at: datetime
    ready_at: datetime
    response: dict
    actor: Actor  # who asked (the order system's token, or an operator)
    occurred_at: datetime  # the service clock at intake (``placed_at`` may be the client's)
    promise_extension_minutes: int = 0  # a zone mode's extension, in the promise
