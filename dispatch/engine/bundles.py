"""Same-store bundles: orders of one store that one courier carries in one trip."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder, TravelTime
from dispatch.engine.timing import best_sequence


@dataclass(frozen=True, slots=True)
class Bundle:
    """Orders of one store in delivery sequence, with drop-off offsets from the pickup."""

    store_id: str
    store_location: Hashable
    orders: tuple[OpenOrder, ...]
    ready_at: float
    offsets: tuple[float, ...]

    @property
    def size(self) -> int:
        """Number of orders."""
        return len(self.orders)


def largest_bundle(couriers: Sequence[CourierState], policy: EnginePolicy) -> int:
    """The largest bundle any given courier may carry under the policy (at least 1)."""
    return max(1, min(policy.max_bundle_size, max((c.capacity for c in couriers), default=1)))


def bundle_target_size(
    *,
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    now: float,
    policy: EnginePolicy,
) -> int:
    """How many orders a bundle may hold this round: demand over supply in the horizon.

    Parameters
    ----------
    orders
        Open orders.
    couriers
        Couriers given to the round.
    now
        Time of the round.
    policy
        Gives the horizon and the maximum bundle size.

    Returns
    -------
    int
        ``ceil(orders ready within the horizon / couriers free within it)`` clamped to
        ``1 .. min(max_bundle_size, largest courier capacity)`` (the largest size when no
        courier is free in the horizon).
    """
    horizon = now + policy.courier_horizon_s
    demand = sum(1 for o in orders if o.ready_at <= horizon)
    supply = sum(1 for c in couriers if c.free_at <= horizon and c.shift_ends_at >= now)
    largest = largest_bundle(couriers, policy)
    if supply == 0:
        return max(1, largest)
    return max(1, min(largest, math.ceil(policy.bundle_demand_factor * demand / supply)))


def build_bundles(
    orders: Sequence[OpenOrder],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    target_size: int,
    expected_pickup: Mapping[str, float] | None = None,
    max_added_delay_s: float = math.inf,
) -> tuple[Bundle, ...]:
    """Partition the open orders into same-store bundles.

    Orders of each store are taken by ready time and inserted into the bundle where they add
    the least delivery delay, when that bundle holds fewer than ``target_size`` orders, its
    ready times are within ``bundle_ready_gap_s``, the insertion adds at most
    ``max_added_delay_s`` of delay in total, and no order is pushed past its promise (an
    order already late alone may be delayed by at most ``bundle_late_delay_s``) or delayed
    more than ``bundle_max_delay_s`` against being carried alone.

    Delays are judged against each order's pickup alone: its ready time with a courier
    waiting at the store, or ``expected_pickup`` when given (the pickup a previous
    assignment predicts, which is later when couriers are short: an order that waits for a
    courier anyway can ride along with another for free).

    Parameters
    ----------
    orders
        Open orders, any stores.
    travel
        Travel-time function.
    now
        Time of the round.
    policy
        Service times and bundle limits.
    target_size
        Largest bundle this round.
    expected_pickup
        Optional predicted pickup time per order id (missing ids: no courier found).
    max_added_delay_s
        Largest total delay one insertion may add.

    Returns
    -------
    tuple of Bundle
        Every order in exactly one bundle; stores by id, bundles by ready time.
    """
    reference = _reference_pickups(orders, expected_pickup, now=now, policy=policy)
    bundles: list[Bundle] = []
    for group in _store_groups(orders):
        bundles += _bundle_store(
            group,
            travel=travel,
            reference=reference,
            earliest=now + policy.pickup_half_s,
            policy=policy,
            size=target_size,
            max_added=max_added_delay_s,
        )
    return tuple(bundles)


def _reference_pickups(
    orders: Sequence[OpenOrder],
    expected_pickup: Mapping[str, float] | None,
    *,
    now: float,
    policy: EnginePolicy,
) -> dict[str, float]:
    """Each order's pickup were it carried alone, against which bundling delays are judged.

    Its ready time (not before a courier could be at the store), or later when a previous
    assignment predicts a later pickup; an order no courier was found for is taken to wait
    until the end of the horizon plus the largest delay a bundle may add.
    """
    earliest = now + policy.pickup_half_s
    if expected_pickup is None:
        return {o.order_id: max(o.ready_at, earliest) for o in orders}
    late = now + policy.courier_horizon_s + policy.bundle_max_delay_s
    return {
        o.order_id: max(o.ready_at, earliest, expected_pickup.get(o.order_id, late))
        for o in orders
    }


def _store_groups(orders: Sequence[OpenOrder]) -> list[list[OpenOrder]]:
    """The orders of each store (stores by id), each store's by ready time, then placement."""
    by_store: dict[str, list[OpenOrder]] = defaultdict(list)
    for o in orders:
        by_store[o.store_id].append(o)
    return [
        sorted(by_store[store_id], key=lambda o: (o.ready_at, o.placed_at, o.order_id))
        for store_id in sorted(by_store)
    ]


def make_bundle(
    orders: Sequence[OpenOrder], *, travel: TravelTime, policy: EnginePolicy
) -> Bundle:
    first = orders[0]
    perm, offsets = best_sequence(
        first.store_location, [o.dropoff for o in orders], travel=travel, policy=policy
    )
    return Bundle(
        store_id=first.store_id,
        store_location=first.store_location,
        orders=tuple(orders[i] for i in perm),
        ready_at=max(o.ready_at for o in orders),
        offsets=offsets,
    )


def _bundle_store(
    group: Sequence[OpenOrder],
    *,
    travel: TravelTime,
    reference: Mapping[str, float],
    earliest: float,
    policy: EnginePolicy,
    size: int,
    max_added: float,
) -> list[Bundle]:
    singles = [make_bundle([o], travel=travel, policy=policy) for o in group]
    if size <= 1 or len(group) == 1:
        return singles
    solo = {b.orders[0].order_id: reference[b.orders[0].order_id] + b.offsets[0] for b in singles}

    def delay_of(b: Bundle) -> float | None:
        pick = max(b.ready_at, earliest, min(reference[o.order_id] for o in b.orders))
        total = 0.0
        for o, off in zip(b.orders, b.offsets, strict=True):
            drop = pick + off
            delay = drop - solo[o.order_id]
            if delay > policy.bundle_max_delay_s or (
                drop > o.promised_by and delay > policy.bundle_late_delay_s
            ):
                return None
            total += delay
        return total

    bundles: list[Bundle] = []
    delays: list[float] = []
    for single in singles:
        order = single.orders[0]
        best: tuple[float, int, Bundle, float] | None = None
        for i, b in enumerate(bundles):
            if b.size >= size:
                continue
            if order.ready_at - min(o.ready_at for o in b.orders) > policy.bundle_ready_gap_s:
                continue
            cand = make_bundle([*b.orders, order], travel=travel, policy=policy)
            delay = delay_of(cand)
            if delay is None or delay - delays[i] > max_added:
                continue
            if best is None or delay - delays[i] < best[0]:
                best = (delay - delays[i], i, cand, delay)
        if best is None:
            bundles.append(single)
            delays.append(0.0)
        else:
            bundles[best[1]] = best[2]
            delays[best[1]] = best[3]
    return bundles
