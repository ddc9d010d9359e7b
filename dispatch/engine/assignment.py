"""Courier × bundle assignment: candidate pairs priced as arrays, matched globally, in waves.

Wave 1 matches every courier (as it will be when its committed work ends) to at most one
bundle. Bundles left over go to wave 2, where the couriers matched in wave 1 appear as they
will be at the end of that trip, and so on: the result is a tentative plan for every order
that any courier can take, and only wave-1 trips can be committed.

Each bundle is offered to its store's ``candidate_couriers`` nearest couriers by arrival and
to the couriers that have its store among their ``candidate_stores`` nearest (to all of them
when none of those can take it); the pairs are priced as numpy arrays from the
round's :class:`~dispatch.engine.legs.StoreLegs` and matched by
:func:`~dispatch.engine.matching.match`, in which every courier may also take nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from dispatch.engine.bundles import Bundle
from dispatch.engine.legs import StoreLegs
from dispatch.engine.matching import match
from dispatch.engine.model import CourierState, EnginePolicy, TravelTime
from dispatch.engine.timing import RouteTiming, time_route


@dataclass(frozen=True, slots=True)
class Assignment:
    """A bundle matched to a courier in a given wave, with the trip's timing."""

    courier: CourierState
    bundle: Bundle
    wave: int
    timing: RouteTiming


@dataclass(frozen=True, slots=True)
class CourierView:
    """Couriers of one wave as arrays over the round's stores (built once per wave state).

    The view covers some of the round's stores: ``slot[j]`` is the position in the view of
    store column ``j`` of the legs (-1 when not covered). The couriers offered bundles of
    the store at view position ``v`` are ``offered[indptr[v]:indptr[v + 1]]`` (see
    :func:`courier_view`); ``reach_shift[n - 1, v]`` is the latest shift end among couriers
    that reach that store and carry ``n`` orders (``-inf`` if none).
    """

    states: tuple[CourierState, ...]
    slot: np.ndarray  # (legs stores,)
    start: np.ndarray  # (C,)
    shift_end: np.ndarray  # (C,)
    capacity: np.ndarray  # (C,)
    to_store: np.ndarray  # (C, S), inf where unreachable
    indptr: np.ndarray  # (S + 1,) store v's couriers are offered[indptr[v]:indptr[v + 1]]
    offered: np.ndarray  # courier indices, by store
    reach_shift: np.ndarray  # (N, S)


def courier_view(
    couriers: Sequence[CourierState],
    *,
    legs: StoreLegs,
    now: float,
    policy: EnginePolicy,
    columns: np.ndarray | None = None,
) -> CourierView:
    """Arrays of the couriers against the round's stores, and each store's candidates.

    Parameters
    ----------
    couriers
        Couriers, each as it is when its current work ends.
    legs
        The round's store legs.
    columns
        Store columns of ``legs`` to cover (default: all).
    now, policy
        Time of the round; gives ``candidate_couriers`` (0: every courier) and the largest
        bundle.

    Returns
    -------
    CourierView
    """
    states = tuple(couriers)
    cols = np.arange(len(legs.stores)) if columns is None else np.asarray(columns, dtype=np.intp)
    slot = np.full(len(legs.stores), -1, dtype=np.intp)
    slot[cols] = np.arange(cols.size)
    c, s = len(states), cols.size
    to_store = legs.matrix([x.location for x in states], cols)
    start = np.fromiter((max(now, x.free_at) for x in states), dtype=float, count=c)
    shift_end = np.fromiter((x.shift_ends_at for x in states), dtype=float, count=c)
    capacity = np.fromiter((x.capacity for x in states), dtype=np.int64, count=c)
    reachable = np.isfinite(to_store)
    offered = _offered(to_store, start, reachable, now=now, policy=policy)
    store_of, courier_of = np.nonzero(offered.T)
    indptr = np.zeros(s + 1, dtype=np.intp)
    np.cumsum(np.bincount(store_of, minlength=s), out=indptr[1:])
    reach_shift = _reach_shift(reachable, capacity, shift_end, policy=policy)
    return CourierView(
        states=states,
        slot=slot,
        start=start,
        shift_end=shift_end,
        capacity=capacity,
        to_store=to_store,
        indptr=indptr,
        offered=courier_of,
        reach_shift=reach_shift,
    )


def _offered(
    to_store: np.ndarray,
    start: np.ndarray,
    reachable: np.ndarray,
    *,
    now: float,
    policy: EnginePolicy,
) -> np.ndarray:
    """Which couriers (rows) are offered bundles of which stores (columns), shape (C, S).

    Each store's nearest couriers by arrival, and each courier's nearest stores (when
    stores compete for couriers, a courier far down a store's list may be the one the best
    matching gives it); ties by position. Every pair when the limit does not bind.
    """
    c, s = to_store.shape
    limit = policy.candidate_couriers
    if limit <= 0 or c <= limit or s == 0:
        return np.ones((c, s), dtype=bool)
    key = np.where(reachable, (start - now)[:, None] + to_store, np.inf)
    key = key + (np.arange(c) * 1e-6)[:, None]
    offered = np.zeros((c, s), dtype=bool)
    near_couriers = np.argpartition(key, limit - 1, axis=0)[:limit]
    offered[near_couriers, np.arange(s)[None, :]] = True
    per_courier = min(s, policy.candidate_stores)
    if per_courier > 0:
        near_stores = np.argpartition(key, per_courier - 1, axis=1)[:, :per_courier]
        offered[np.arange(c)[:, None], near_stores] = True
    return offered


def _reach_shift(
    reachable: np.ndarray, capacity: np.ndarray, shift_end: np.ndarray, *, policy: EnginePolicy
) -> np.ndarray:
    """Latest shift end, per bundle size and store, of the couriers that reach and carry it.

    Shape (N, S), ``-inf`` where no courier can; it tells whether a deferred bundle is lost.
    """
    c, s = reachable.shape
    sizes = max(policy.max_bundle_size, int(capacity.max(initial=1)))
    reach_shift = np.full((sizes, s), -np.inf)
    for n in range(1, sizes + 1):
        able = reachable & (capacity >= n)[:, None]
        if c:
            reach_shift[n - 1] = np.where(able, shift_end[:, None], -np.inf).max(axis=0)
    return reach_shift


@dataclass(frozen=True, slots=True)
class _BundleArrays:
    store_col: np.ndarray  # (B,)
    ready: np.ndarray  # (B,)
    size: np.ndarray  # (B,)
    offsets: np.ndarray  # (B, K), 0 where masked
    mask: np.ndarray  # (B, K) bool
    placed: np.ndarray  # (B, K)
    promised: np.ndarray  # (B, K)
    tail: np.ndarray  # (B,) pickup -> courier free


def _bundle_arrays(bundles: Sequence[Bundle], legs: StoreLegs, policy: EnginePolicy) -> _BundleArrays:
    k = max(b.size for b in bundles)
    n = len(bundles)
    offsets = np.zeros((n, k))
    mask = np.zeros((n, k), dtype=bool)
    placed = np.zeros((n, k))
    promised = np.zeros((n, k))
    for i, b in enumerate(bundles):
        m = b.size
        offsets[i, :m] = b.offsets
        mask[i, :m] = True
        placed[i, :m] = [o.placed_at for o in b.orders]
        promised[i, :m] = [o.promised_by for o in b.orders]
    return _BundleArrays(
        store_col=legs.columns([b.store_location for b in bundles]),
        ready=np.fromiter((b.ready_at for b in bundles), dtype=float, count=n),
        size=np.fromiter((b.size for b in bundles), dtype=np.int64, count=n),
        offsets=offsets,
        mask=mask,
        placed=placed,
        promised=promised,
        tail=offsets.max(axis=1) + policy.dropoff_half_s,
    )


def _order_costs(
    pick: np.ndarray, rows: np.ndarray, arrays: _BundleArrays, policy: EnginePolicy
) -> np.ndarray:
    """Cost of the orders of bundles ``rows`` when picked up at ``pick`` (both shape (P,))."""
    mask = arrays.mask[rows]
    drop = pick[:, None] + arrays.offsets[rows]
    ctd = np.where(mask, drop - arrays.placed[rows], 0.0).sum(axis=-1)
    late = np.where(mask, np.maximum(drop - arrays.promised[rows], 0.0), 0.0)
    late_cost = (late * (1.0 + late / policy.lateness_knee_s)).sum(axis=-1)
    return policy.click_to_door_weight * ctd + policy.lateness_weight * late_cost


@dataclass(frozen=True, slots=True)
class _Pairs:
    bundle: np.ndarray  # (P,)
    courier: np.ndarray  # (P,)
    cost: np.ndarray  # (P,)


def _pair_terms(
    pb: np.ndarray, pc: np.ndarray, view: CourierView, arrays: _BundleArrays, policy: EnginePolicy
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    to_store = view.to_store[pc, view.slot[arrays.store_col[pb]]]
    reachable = np.isfinite(to_store)
    to_store = np.where(reachable, to_store, 0.0)
    arrive = view.start[pc] + to_store
    pick = np.maximum(arrays.ready[pb], arrive + policy.pickup_half_s)
    feasible = reachable & (pick <= view.shift_end[pc]) & (arrays.size[pb] <= view.capacity[pc])
    return to_store, arrive, pick, feasible


def _price_pairs(
    view: CourierView, arrays: _BundleArrays, *, now: float, policy: EnginePolicy
) -> _Pairs:
    """Feasible candidate pairs and their costs (see :func:`cost_matrix` for the formula)."""
    n_bundles = arrays.ready.shape[0]
    slot = view.slot[arrays.store_col]
    first, count = view.indptr[slot], np.diff(view.indptr)[slot]
    pb = np.repeat(np.arange(n_bundles), count)
    within = np.arange(pb.size) - np.repeat(np.cumsum(count) - count, count)
    pc = view.offered[np.repeat(first, count) + within]
    to_store, arrive, pick, feasible = _pair_terms(pb, pc, view, arrays, policy)
    has = np.zeros(n_bundles, dtype=bool)
    has[pb[feasible]] = True
    if count.min(initial=len(view.states)) < len(view.states) and not has.all():
        # None of its nearest couriers can take it: offer the bundle to every courier.
        lonely = np.flatnonzero(~has)
        n_all = len(view.states)
        extra_b = np.repeat(lonely, n_all)
        extra_c = np.tile(np.arange(n_all), lonely.size)
        e_to, e_arr, e_pick, e_ok = _pair_terms(extra_b, extra_c, view, arrays, policy)
        pb, pc = np.concatenate([pb, extra_b]), np.concatenate([pc, extra_c])
        to_store = np.concatenate([to_store, e_to])
        arrive = np.concatenate([arrive, e_arr])
        pick = np.concatenate([pick, e_pick])
        feasible = np.concatenate([feasible, e_ok])
    pb, pc = pb[feasible], pc[feasible]
    to_store, arrive, pick = to_store[feasible], arrive[feasible], pick[feasible]
    cost = _order_costs(pick, pb, arrays, policy)
    cost += policy.travel_weight * (to_store + arrays.tail[pb])
    cost += policy.wait_weight * (pick - policy.pickup_half_s - arrive)
    best_pick = np.full(n_bundles, np.inf)
    np.minimum.at(best_pick, pb, pick)
    best_pick = np.where(np.isfinite(best_pick), best_pick, arrays.ready)
    deferred = best_pick + policy.courier_horizon_s
    everyone = np.arange(n_bundles)
    cost -= _order_costs(deferred, everyone, arrays, policy)[pb]
    sizes = np.minimum(arrays.size, view.reach_shift.shape[0]) - 1
    last_pick = view.reach_shift[sizes, view.slot[arrays.store_col]]
    lost = deferred > last_pick
    cost -= np.where(lost, policy.lost_order_penalty_s * arrays.size, 0.0)[pb]
    age = np.where(arrays.mask, now - arrays.placed, 0.0).clip(min=0.0).sum(axis=1)
    cost -= policy.age_weight * age[pb]
    ok = np.isfinite(cost)
    return _Pairs(bundle=pb[ok], courier=pc[ok], cost=cost[ok])


def cost_matrix(
    couriers: Sequence[CourierState],
    bundles: Sequence[Bundle],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
) -> tuple[np.ndarray, np.ndarray]:
    """Cost of each courier taking each bundle next, and whether it may (every pair).

    Cost of a pair: click-to-door of the bundle's orders plus a convex lateness penalty
    against their promises (``lateness_weight · late · (1 + late / lateness_knee_s)``), plus
    the courier's travel and its waiting at the store; minus the bundle's cost were it served
    ``courier_horizon_s`` later than its best courier can (so that, when couriers are short,
    the bundles that lose most by waiting are served first, and ``lost_order_penalty_s`` per
    order when no courier that reaches the store and carries the bundle is on shift until
    that later pickup) and minus an age bonus (``age_weight`` per unit of time each order
    has waited, so that no order starves). The assignment prices only each bundle's
    candidate pairs the same way; this dense form is for inspection and tests.

    Parameters
    ----------
    couriers
        Couriers, each as it is when its current work ends.
    bundles
        Candidate bundles (at least one).
    travel, now, policy
        Travel-time function, time of the round, weights.

    Returns
    -------
    (cost, feasible)
        Arrays of shape (couriers, bundles). Infeasible pairs (unreachable store, pickup
        after the shift ends, bundle over capacity) have ``feasible`` false.
    """
    legs = StoreLegs(list(dict.fromkeys(b.store_location for b in bundles)), travel)
    every = replace(policy, candidate_couriers=0)
    view = courier_view(couriers, legs=legs, now=now, policy=every)
    pairs = _price_pairs(view, _bundle_arrays(bundles, legs, policy), now=now, policy=every)
    cost = np.zeros((len(couriers), len(bundles)))
    feasible = np.zeros((len(couriers), len(bundles)), dtype=bool)
    cost[pairs.courier, pairs.bundle] = pairs.cost
    feasible[pairs.courier, pairs.bundle] = True
    return cost, feasible


def assign_bundles(
    bundles: Sequence[Bundle],
    couriers: Sequence[CourierState],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    legs: StoreLegs | None = None,
    first_wave: CourierView | None = None,
    timings: dict[tuple[int, object, float], tuple[Bundle, RouteTiming]] | None = None,
) -> tuple[list[Assignment], list[Bundle]]:
    """Match bundles to couriers in waves until every bundle has a courier or none can take it.

    Parameters
    ----------
    bundles
        The round's bundles.
    couriers
        The round's couriers.
    travel, now, policy
        Travel-time function, time of the round, weights.
    legs
        The round's store legs (built here when not given; pass one to reuse it).
    first_wave
        :func:`courier_view` of ``couriers`` against ``legs`` (built here when not given).
    timings
        A memo of trip timings to share between calls of one round (the same courier state
        and bundle always time the same).

    Returns
    -------
    (assignments, leftover)
        Assignments in wave order; bundles no courier can take.
    """
    if legs is None:
        legs = StoreLegs(list(dict.fromkeys(b.store_location for b in bundles)), travel)
    states = list(couriers)
    remaining = list(bundles)
    out: list[Assignment] = []
    for wave in range(1, policy.max_waves + 1):
        if not remaining or not states:
            break
        view = first_wave if wave == 1 else None
        matched = _match_wave(states, remaining, view=view, legs=legs, now=now, policy=policy)
        taken: set[int] = set()
        for r, c in matched:
            courier, bundle = states[r], remaining[c]
            timing = _trip_timing(courier, bundle, travel=travel, now=now, policy=policy, timings=timings)
            out.append(Assignment(courier=courier, bundle=bundle, wave=wave, timing=timing))
            states[r] = _after_trip(courier, bundle, timing)
            taken.add(c)
        if not taken:
            break
        remaining = [b for i, b in enumerate(remaining) if i not in taken]
    return out, remaining


def _match_wave(
    states: Sequence[CourierState],
    remaining: Sequence[Bundle],
    *,
    view: CourierView | None,
    legs: StoreLegs,
    now: float,
    policy: EnginePolicy,
) -> list[tuple[int, int]]:
    """One wave's (courier, bundle) index pairs: candidate pairs priced and matched globally.

    ``view`` is the couriers' view when already built (the first wave's); later waves build
    it over the remaining bundles' stores only.
    """
    arrays = _bundle_arrays(remaining, legs, policy)
    if view is None:
        view = courier_view(
            states, legs=legs, now=now, policy=policy, columns=np.unique(arrays.store_col)
        )
    pairs = _price_pairs(view, arrays, now=now, policy=policy)
    rows, cols = match(
        pairs.courier,
        pairs.bundle,
        pairs.cost,
        n_couriers=len(states),
        n_bundles=len(remaining),
    )
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


def _trip_timing(
    courier: CourierState,
    bundle: Bundle,
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    timings: dict[tuple[int, object, float], tuple[Bundle, RouteTiming]] | None,
) -> RouteTiming:
    """Time the courier's trip with the bundle, through the round's memo when given.

    The memo is keyed by the bundle's identity (checked, as ids may be reused) and the
    courier's state: the same courier state and bundle always time the same.
    """
    key = (id(bundle), courier.location, courier.free_at)
    known = timings.get(key) if timings is not None else None
    if known is not None and known[0] is bundle:
        return known[1]
    timing = time_route(
        location=courier.location,
        start_at=max(now, courier.free_at),
        store_location=bundle.store_location,
        ready_at=bundle.ready_at,
        dropoffs=[o.dropoff for o in bundle.orders],
        travel=travel,
        policy=policy,
    )
    if timings is not None:
        timings[key] = (bundle, timing)
    return timing


def _after_trip(courier: CourierState, bundle: Bundle, timing: RouteTiming) -> CourierState:
    """The courier as it is when the trip ends: at the last door, free then (next wave)."""
    return CourierState(
        courier_id=courier.courier_id,
        location=bundle.orders[-1].dropoff,
        free_at=timing.free_at,
        shift_ends_at=courier.shift_ends_at,
        capacity=courier.capacity,
    )
