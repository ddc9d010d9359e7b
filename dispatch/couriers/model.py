"""Couriers and their routes as values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

COURIER_STATES = ("off", "idle", "busy")  # off shift; on shift with no route; on a route


@dataclass(frozen=True, slots=True)
class Courier:
    courier_id: str
    name: str
    zone: str
    capacity: int
    on_shift: bool
    shift_ends_at: datetime | None
    lat: float | None
    lon: float | None
    position_at: datetime | None
    route_id: int | None
    reposition_node: int | None = None  # where dispatch asks it to wait, when it has no route


@dataclass(frozen=True, slots=True)
class RouteStop:
    kind: str  # pickup | dropoff
    order_ids: tuple[str, ...]
    node: int
    lat: float
    lon: float
    planned_at: datetime
    done: bool


@dataclass(frozen=True, slots=True)
class ActiveRoute:
    route_id: int
    courier_id: str
    store_id: str
    zone: str
    depart_at: datetime
    pickup_at: datetime
    plan: dict  # {"store_node", "orders": [{"order_id", "node", "dropoff_at"}], "free_at"}


@dataclass(frozen=True, slots=True)
class OpenOrderRow:
    """An order the dispatch loop must still serve, as read from the database."""

    order_id: str
    store_id: str
    zone: str
    status: str
    drop_node: int
    placed_at: datetime
    ready_at: datetime
    packed_at: datetime | None
    promised_by: datetime
    predicted_delivery_at: datetime
    courier_id: str | None
    route_id: int | None
    pinned_courier_id: str | None = None  # an operator gave it to this courier


@dataclass(frozen=True, slots=True)
class CourierRow:
    courier_id: str
    zone: str
    capacity: int
    on_shift: bool
    shift_ends_at: datetime | None
    lat: float | None
    lon: float | None
    position_at: datetime | None
    route_id: int | None
    route_free_at: datetime | None
    route_end_node: int | None
    last_handover_at: datetime | None = None  # when its last route's last drop-off was handed over


@dataclass(frozen=True, slots=True)
class Delivery:
    """What a delivery settled: the zone, click-to-door, the intake's prediction, the outcome."""

    zone: str
    placed_at: datetime
    predicted_at_intake: datetime | None
    outcome: str | None  # newly set here (None when the sweeper had already counted it late)
    changed: bool  # False for a repeated delivery


@dataclass(frozen=True, slots=True)
class RouteCommit:
    """A route the round gives a courier: written whole (courier claimed, every order taken) or not at all."""

    courier_id: str
    store_id: str
    zone: str
    order_ids: tuple[str, ...]
    depart_at: datetime
    arrive_store_at: datetime
    pickup_at: datetime
    predicted: tuple[datetime, ...]  # each order's drop-off, in route order
    plan: dict  # the stops as the courier's task list shows them


@dataclass(frozen=True, slots=True)
class RouteOrder:
    """An order on a courier's route, as the courier's task list shows it."""

    order_id: str
    status: str
    drop_node: int
    drop_lat: float | None
    drop_lon: float | None
    promised_by: datetime

