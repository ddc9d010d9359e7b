"""The dispatch round: open orders and couriers in, committed and tentative routes out."""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Mapping, Sequence

from dispatch.engine.assignment import Assignment
from dispatch.engine.bundles import Bundle, bundle_target_size, largest_bundle
from dispatch.engine.model import (
    CourierState,
    EngineError,
    EnginePolicy,
    OpenOrder,
    RoundPlan,
    Route,
    TravelTime,
)
from dispatch.engine.reposition import plan_repositions
from dispatch.engine.search import search_bundles
from dispatch.engine.timing import must_leave_now, time_route


def plan_round(
    *,
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    hotspots: Mapping[Hashable, float] | None = None,
    timer: Callable[[], float] | None = None,
) -> RoundPlan:
    """Plan one dispatch round.

    Bundles the open orders by store, matches bundles to couriers globally (in waves, so that
    every order any courier can take gets a route and a predicted delivery), and commits the
    trips whose courier is free and must leave now. Pure and deterministic: the result depends
    only on the arguments, not on their order.

    Parameters
    ----------
    orders
        Open orders: known, not yet committed to a courier. Late orders are served, late.
    couriers
        Couriers on shift (or starting soon), each as it is when its committed work ends.
    travel
        Travel time between two locations (seconds, ``math.inf`` if unreachable).
    now
        Time of this round (seconds).
    policy
        Service times and weights.
    hotspots
        Optional expected demand per location (e.g. recent orders per store); idle couriers
        are sent toward it (``RoundPlan.repositions``).
    timer
        Optional monotonic clock in seconds: the bundle search then also stops once it has
        used ``policy.search_time_share`` of the round interval (the plan is the best found
        so far). Without it the round's work is bounded by counts only and the result is
        fully deterministic.

    Returns
    -------
    RoundPlan
        Routes (committed ones first), and the orders no courier can (or should yet) take.
    """
    orders, couriers, unplannable = _plannable(orders, couriers)
    routes, leftover = _plan_trips(
        orders, couriers, travel=travel, now=now, policy=policy, timer=timer
    )
    unassigned = tuple(sorted([*unplannable, *(o.order_id for b in leftover for o in b.orders)]))
    moves = plan_repositions(
        couriers=couriers,
        routes=routes,
        hotspots=hotspots or {},
        travel=travel,
        now=now,
        policy=policy,
    )
    return RoundPlan(routes=tuple(routes), repositions=moves, unassigned=unassigned)


def _plannable(
    orders: Sequence[OpenOrder], couriers: Sequence[CourierState]
) -> tuple[list[OpenOrder], list[CourierState], list[str]]:
    """Checked inputs in id order (so the plan does not depend on the given order).

    An order whose times are not numbers cannot be planned; it must not poison the others,
    so it is set apart (its id is returned) rather than rejected.
    """
    orders = sorted(orders, key=lambda o: o.order_id)
    couriers = sorted(couriers, key=lambda c: c.courier_id)
    _check_unique(orders, couriers)
    unplannable = [o.order_id for o in orders if not _has_finite_times(o)]
    orders = [o for o in orders if _has_finite_times(o)]
    return orders, couriers, unplannable


def _plan_trips(
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    timer: Callable[[], float] | None,
) -> tuple[list[Route], list[Bundle]]:
    """The round's routes (committed first) from the best partition found, and the leftover."""
    size = bundle_target_size(orders=orders, couriers=couriers, now=now, policy=policy)
    assignments, leftover = search_bundles(
        orders,
        couriers,
        travel=travel,
        now=now,
        policy=policy,
        target_size=size,
        largest=largest_bundle(couriers, policy),
        timer=timer,
    )
    routes = [_route(a, travel=travel, now=now, policy=policy) for a in assignments]
    routes.sort(key=lambda r: (not r.committed, r.pickup_at, r.courier_id))
    return routes, leftover


def _route(a: Assignment, *, travel: TravelTime, now: float, policy: EnginePolicy) -> Route:
    timing = a.timing
    committed = a.wave == 1 and must_leave_now(
        leave_by=timing.leave_by, free_at=a.courier.free_at, now=now, policy=policy
    )
    if committed:
        timing = time_route(
            location=a.courier.location,
            start_at=now,
            store_location=a.bundle.store_location,
            ready_at=a.bundle.ready_at,
            dropoffs=[o.dropoff for o in a.bundle.orders],
            travel=travel,
            policy=policy,
            depart_now=True,
        )
    return Route(
        courier_id=a.courier.courier_id,
        store_id=a.bundle.store_id,
        order_ids=tuple(o.order_id for o in a.bundle.orders),
        depart_at=timing.depart_at,
        arrive_store_at=timing.arrive_store_at,
        pickup_at=timing.pickup_at,
        dropoff_at=timing.dropoff_at,
        free_at=timing.free_at,
        leave_by=timing.leave_by,
        committed=committed,
    )


def _has_finite_times(o: OpenOrder) -> bool:
    return math.isfinite(o.placed_at) and math.isfinite(o.ready_at) and math.isfinite(o.promised_by)


def _check_unique(orders: Sequence[OpenOrder], couriers: Sequence[CourierState]) -> None:
    for kind, ids in (
        ("order", [o.order_id for o in orders]),
        ("courier", [c.courier_id for c in couriers]),
    ):
        if len(set(ids)) != len(ids):
            raise EngineError(f"duplicate {kind} id given to plan_round")
    for c in couriers:
        if c.capacity < 1:
            raise EngineError(f"courier {c.courier_id} has capacity {c.capacity} < 1")
