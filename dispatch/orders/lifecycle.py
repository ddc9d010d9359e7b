"""The order lifecycle: every way an order may change, from which statuses, by whom (pure).

``STEPS`` is the only definition of the state machine. Each step names the statuses it may
start from, the status it leads to (or none: the status stays and only an event is written),
the actors allowed to take it, and the event it appends. The PostgreSQL adapters take their
guards from here (``sources``, ``target``) and the event type from here (``event_of``), so a
new capability is one more row in this table rather than one more SQL string.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dispatch.errors import InvalidTransition, NotCancellable, NotReassignable


class OrderStatus(StrEnum):
    PLACED = "placed"
    RESERVED = "reserved"
    HELD = "held"  # an operator keeps it out of dispatch; its promise keeps running
    ASSIGNED = "assigned"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    FAILED = "failed"


class ActorType(StrEnum):
    """Who took a step: the audit trail's ``actor.type``."""

    SYSTEM = "system"
    OPERATOR = "operator"
    STORE = "store"
    COURIER = "courier"
    ORDER_SYSTEM = "order_system"


class EventType(StrEnum):
    """The ``type`` of an order event (DESIGN.md section 12)."""

    RESERVED = "order.reserved"
    ASSIGNED = "order.assigned"
    REASSIGNED = "order.reassigned"
    UNASSIGNED = "order.unassigned"
    HELD = "order.held"
    RELEASED = "order.released"
    PICKED_UP = "order.picked_up"
    DELIVERED = "order.delivered"
    CANCELLED = "order.cancelled"
    FAILED = "order.failed"
    LATE = "order.late"
    PROMISE_EXTENDED = "order.promise_extended"
    SHORT_PICKED = "order.short_picked"
    LEG_ADDED = "order.leg_added"
    LEG_DELIVERED = "order.leg_delivered"  # a leg reached the door; another leg is still on its way
    LEG_DROPPED = "order.leg_dropped"  # a short pick left a leg with nothing to carry
    ETA_UPDATED = "order.eta_updated"
    # Facts the store and courier report on the way, kept in the same log:
    PACKED = "order.packed"
    ARRIVED_STORE = "order.arrived_store"
    STOCK_SHORTFALL = "order.stock_shortfall"  # a stock sync left the order's SKU short
    # Only in events migrated from before the event log (placement wrote two rows then):
    PLACED = "order.placed"


class Step(StrEnum):
    """Every change an order can go through."""

    RESERVE = "reserve"
    ASSIGN = "assign"
    UNASSIGN = "unassign"
    REASSIGN = "reassign"
    HOLD = "hold"
    RELEASE = "release"
    PICK_UP = "pick_up"
    DELIVER = "deliver"
    CANCEL = "cancel"
    FAIL = "fail"
    PACK = "pack"
    ARRIVE_STORE = "arrive_store"
    MARK_LATE = "mark_late"
    UPDATE_ETA = "update_eta"
    RECORD_SHORTFALL = "record_shortfall"
    # Legs (DESIGN.md section 15): a step on one leg of an order; the event goes to the order's log.
    SHORT_PICK = "short_pick"
    ADD_LEG = "add_leg"
    DROP_LEG = "drop_leg"
    DELIVER_LEG = "deliver_leg"


S = OrderStatus
A = ActorType
OPEN = frozenset({S.PLACED, S.RESERVED, S.HELD, S.ASSIGNED, S.PICKED_UP})
HOLDS_RESERVATION = frozenset({S.RESERVED, S.HELD, S.ASSIGNED})
CLOSED = frozenset({S.DELIVERED, S.CANCELLED, S.FAILED})
IN_DISPATCH = frozenset({S.RESERVED, S.HELD, S.ASSIGNED, S.PICKED_UP})  # what a round reads and gauges
BEFORE_PICKUP = frozenset({S.RESERVED, S.ASSIGNED})  # what an operator may still move or hold
ON_ROUTE = frozenset({S.ASSIGNED, S.PICKED_UP})  # keeps a courier's route open


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of the state machine."""

    step: Step
    sources: frozenset[OrderStatus]  # empty: the step creates the order
    target: OrderStatus | None  # None: the status stays, only the event is written
    actors: frozenset[ActorType]
    event: EventType


def _row(
    step: Step,
    sources: frozenset[OrderStatus],
    target: OrderStatus | None,
    actors: set[ActorType],
    event: EventType,
) -> tuple[Step, Transition]:
    return step, Transition(step, sources, target, frozenset(actors), event)


STEPS: dict[Step, Transition] = dict(
    [
        _row(Step.RESERVE, frozenset(), S.RESERVED, {A.ORDER_SYSTEM, A.OPERATOR}, EventType.RESERVED),
        _row(Step.ASSIGN, frozenset({S.RESERVED}), S.ASSIGNED, {A.SYSTEM}, EventType.ASSIGNED),
        # back to the pool: the courier rejects, goes off shift or falls silent before pickup
        _row(Step.UNASSIGN, frozenset({S.ASSIGNED}), S.RESERVED, {A.SYSTEM, A.COURIER}, EventType.UNASSIGNED),
        # an operator moves it: to a named courier (next round) or back to the pool
        _row(Step.REASSIGN, BEFORE_PICKUP, S.RESERVED, {A.OPERATOR}, EventType.REASSIGNED),
        _row(Step.HOLD, BEFORE_PICKUP, S.HELD, {A.OPERATOR}, EventType.HELD),
        # by the operator, or by the service when the hold's ``until`` passes
        _row(Step.RELEASE, frozenset({S.HELD}), S.RESERVED, {A.OPERATOR, A.SYSTEM}, EventType.RELEASED),
        _row(Step.PICK_UP, frozenset({S.ASSIGNED}), S.PICKED_UP, {A.COURIER}, EventType.PICKED_UP),
        _row(Step.DELIVER, frozenset({S.PICKED_UP}), S.DELIVERED, {A.COURIER}, EventType.DELIVERED),
        _row(
            Step.CANCEL,
            frozenset({S.PLACED, S.RESERVED, S.HELD, S.ASSIGNED}),
            S.CANCELLED,
            # the service too: a short pick on an order whose on_short is "cancel"
            {A.ORDER_SYSTEM, A.OPERATOR, A.SYSTEM},
            EventType.CANCELLED,
        ),
        _row(
            Step.FAIL,
            frozenset({S.PLACED, S.RESERVED, S.HELD, S.ASSIGNED, S.PICKED_UP}),
            S.FAILED,
            {A.SYSTEM, A.OPERATOR},
            EventType.FAILED,
        ),
        _row(Step.PACK, HOLDS_RESERVATION, None, {A.STORE, A.OPERATOR}, EventType.PACKED),
        _row(Step.ARRIVE_STORE, frozenset({S.ASSIGNED}), None, {A.COURIER}, EventType.ARRIVED_STORE),
        _row(Step.MARK_LATE, OPEN, None, {A.SYSTEM}, EventType.LATE),
        _row(Step.UPDATE_ETA, OPEN, None, {A.SYSTEM}, EventType.ETA_UPDATED),
        _row(Step.RECORD_SHORTFALL, HOLDS_RESERVATION, None, {A.STORE}, EventType.STOCK_SHORTFALL),
        # the store's pick result gave less than the leg holds (recorded on that leg)
        _row(Step.SHORT_PICK, HOLDS_RESERVATION, None, {A.STORE, A.OPERATOR}, EventType.SHORT_PICKED),
        # re-sourced lines become a new leg (recorded on the new leg, which starts reserved)
        _row(Step.ADD_LEG, frozenset({S.RESERVED}), None, {A.SYSTEM}, EventType.LEG_ADDED),
        # a leg a short pick emptied leaves dispatch; the order goes on with its other legs
        _row(Step.DROP_LEG, HOLDS_RESERVATION, S.CANCELLED, {A.SYSTEM}, EventType.LEG_DROPPED),
        # a leg delivered while another is still on its way: the order is judged on its last leg
        _row(Step.DELIVER_LEG, frozenset({S.PICKED_UP}), S.DELIVERED, {A.COURIER}, EventType.LEG_DELIVERED),
    ]
)


def values(statuses: frozenset[OrderStatus]) -> list[str]:
    """A set of statuses as an SQL parameter (sorted, stable)."""
    return sorted(s.value for s in statuses)


def sources(step: Step) -> list[str]:
    """The statuses ``step`` may start from, as the SQL guard's parameter (sorted, stable)."""
    return values(STEPS[step].sources)


def target(step: Step) -> str:
    """The status ``step`` leads to, as the SQL write's parameter."""
    status = STEPS[step].target
    if status is None:
        raise ValueError(f"step {step.value!r} does not change the status")
    return status.value


def event_of(step: Step) -> EventType:
    return STEPS[step].event


def next_statuses(current: OrderStatus) -> frozenset[OrderStatus]:
    """Every status an order in ``current`` may move to, by any step."""
    return frozenset(
        t.target for t in STEPS.values() if current in t.sources and t.target not in (None, current)
    )


def can_take(step: Step, current: OrderStatus, actor: ActorType) -> bool:
    t = STEPS[step]
    return current in t.sources and actor in t.actors


def check_actor(step: Step, actor: ActorType) -> None:
    """Refuse a step taken by an actor the table does not allow (a wiring bug, never client input:
    the HTTP layer has already checked the caller's role)."""
    if actor not in STEPS[step].actors:
        raise ValueError(f"a {actor.value} cannot take the step {step.value!r}")


def check_step(order_id: str, step: Step, current: OrderStatus) -> None:
    """Raise the domain error that explains why ``step`` is not allowed from ``current``."""
    if current in STEPS[step].sources:
        return
    if step is Step.REASSIGN and current in (S.PICKED_UP, *CLOSED):
        raise NotReassignable(f"order {order_id!r} is {current.value}; only an order not yet picked up moves")
    if step is Step.CANCEL:
        raise NotCancellable(f"order {order_id!r} is {current.value} and can no longer be cancelled")
    action = step.value.replace("_", " ")
    raise InvalidTransition(f"order {order_id!r} is {current.value}; it cannot {action}")
