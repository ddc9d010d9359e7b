"""The order lifecycle: statuses and the transitions allowed between them (pure)."""

from __future__ import annotations

from enum import StrEnum

from dispatch.errors import InvalidTransition, NotCancellable


class OrderStatus(StrEnum):
    PLACED = "placed"
    RESERVED = "reserved"
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.PLACED: frozenset({S.RESERVED, S.CANCELLED, S.FAILED}),
    S.RESERVED: frozenset({S.ASSIGNED, S.CANCELLED, S.FAILED}),
    # back to RESERVED when a courier rejects, goes off shift or falls silent before pickup
    S.ASSIGNED: frozenset({S.PICKED_UP, S.RESERVED, S.CANCELLED, S.FAILED}),
    S.PICKED_UP: frozenset({S.DELIVERED, S.FAILED}),
    S.DELIVERED: frozenset(),
    S.CANCELLED: frozenset(),
    S.FAILED: frozenset(),
}
OPEN = frozenset({S.PLACED, S.RESERVED, S.ASSIGNED, S.PICKED_UP})
HOLDS_RESERVATION = frozenset({S.RESERVED, S.ASSIGNED})


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return new in TRANSITIONS[current]


def sources_of(new: OrderStatus) -> frozenset[OrderStatus]:
    """Every status an order may move to ``new`` from (used as the conditional-write guard)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if new in targets)


def check_transition(order_id: str, current: OrderStatus, new: OrderStatus) -> None:
    if can_transition(current, new):
        return
    if new is S.CANCELLED:
        raise NotCancellable(f"order {order_id!r} is {current.value} and can no longer be cancelled")
    raise InvalidTransition(f"order {order_id!r} is {current.value}; it cannot become {new.value}")
