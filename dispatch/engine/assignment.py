"""Courier × bundle assignment: a cost matrix solved globally, in waves, by linear_sum_assignment.

Wave 1 matches every courier (as it will be when its committed work ends) to at most one
bundle. Bundles left over go to wave 2, where the couriers matched in wave 1 appear as they
will be at the end of that trip, and so on: the result is a tentative plan for every order
that any courier can take, and only wave-1 trips can be committed.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.engine.bundles import Bundle
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
class _BundleArrays:
    ready: np.ndarray  # (B,)
    size: np.ndarray  # (B,)
    offsets: np.ndarray  # (B, K), 0 where masked
    mask: np.ndarray  # (B, K) bool
    placed: np.ndarray  # (B, K)
    promised: np.ndarray  # (B, K)
    tail: np.ndarray  # (B,) pickup -> courier free


def _bundle_arrays(bundles: Sequence[Bundle], policy: EnginePolicy) -> _BundleArrays:
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
        ready=np.array([b.ready_at for b in bundles], dtype=float),
        size=np.array([b.size for b in bundles]),
        offsets=offsets,
        mask=mask,
        placed=placed,
        promised=promised,
        tail=offsets.max(axis=1) + policy.dropoff_half_s,
    )


def _order_costs(pick: np.ndarray, arrays: _BundleArrays, policy: EnginePolicy) -> np.ndarray:
    """Cost of the orders of each bundle when picked up at ``pick`` (shape (..., B))."""
    drop = pick[..., None] + arrays.offsets
    ctd = np.where(arrays.mask, drop - arrays.placed, 0.0).sum(axis=-1)
    late = np.where(arrays.mask, np.maximum(drop - arrays.promised, 0.0), 0.0)
    late_cost = (late * (1.0 + late / policy.lateness_knee_s)).sum(axis=-1)
    return policy.click_to_door_weight * ctd + policy.lateness_weight * late_cost


def cost_matrix(
    couriers: Sequence[CourierState],
    bundles: Sequence[Bundle],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
) -> tuple[np.ndarray, np.ndarray]:
    """Cost of each courier taking each bundle next, and whether it may.

    Cost of a pair: click-to-door of the bundle's orders plus a convex lateness penalty
    against their promises (``lateness_weight · late · (1 + late / lateness_knee_s)``), plus
    the courier's travel and its waiting at the store; minus the bundle's cost were it served
    ``courier_horizon_s`` later than its best courier can (so that, when couriers are short,
    the bundles that lose most by waiting are served first, and ``lost_order_penalty_s`` per
    order when no courier's shift would still allow that later pickup) and minus an age bonus
    (``age_weight`` per unit of time each order has waited, so that no order starves).

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
    arrays = _bundle_arrays(bundles, policy)
    stores: dict[Hashable, int] = {}
    store_col = np.array([stores.setdefault(b.store_location, len(stores)) for b in bundles])
    store_list = list(stores)
    to_store = np.array(
        [[travel(c.location, s) for s in store_list] for c in couriers], dtype=float
    )[:, store_col]
    start = np.array([max(now, c.free_at) for c in couriers], dtype=float)[:, None]
    shift_end = np.array([c.shift_ends_at for c in couriers], dtype=float)[:, None]
    capacity = np.array([c.capacity for c in couriers])[:, None]
    reachable = np.isfinite(to_store)
    to_store = np.where(reachable, to_store, 0.0)
    arrive = start + to_store
    pick = np.maximum(arrays.ready[None, :], arrive + policy.pickup_half_s)
    feasible = reachable & (pick <= shift_end) & (arrays.size[None, :] <= capacity)
    cost = _order_costs(pick, arrays, policy)
    cost += policy.travel_weight * (to_store + arrays.tail[None, :])
    cost += policy.wait_weight * (pick - policy.pickup_half_s - arrive)
    best_pick = np.where(feasible, pick, np.inf).min(axis=0)
    best_pick = np.where(np.isfinite(best_pick), best_pick, arrays.ready)
    deferred = best_pick + policy.courier_horizon_s
    cost -= _order_costs(deferred, arrays, policy)[None, :]
    last_pick = np.where(feasible, shift_end, -np.inf).max(axis=0)
    lost = deferred > last_pick
    cost -= np.where(lost, policy.lost_order_penalty_s * arrays.size, 0.0)[None, :]
    age = np.where(arrays.mask, now - arrays.placed, 0.0).clip(min=0.0).sum(axis=1)
    cost -= policy.age_weight * age[None, :]
    return cost, feasible


def match(cost: np.ndarray, feasible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Minimum-cost matching of couriers (rows) to bundles (columns) that may leave either out.

    Every courier also has its own "nothing this wave" option at cost 0 (a pair's cost is
    already relative to serving the bundle later), so the matching is never forced to cover
    a courier or a bundle: an infeasible pair is never taken, and a pair that costs more
    than leaving both out is not taken just to match more of them. (A forced full matching
    once gave a store's idle courier a bundle ready decades later, so that an at-risk order
    there went to a busy courier, round after round.)

    Parameters
    ----------
    cost, feasible
        Arrays of shape (couriers, bundles); non-finite costs count as infeasible.

    Returns
    -------
    (rows, cols)
        Matched courier and bundle indices, by courier.
    """
    n, m = cost.shape
    allowed = feasible & np.isfinite(cost)
    padded = np.full((n, m + n), np.inf)
    padded[:, :m] = np.where(allowed, cost, np.inf)
    padded[np.arange(n), m + np.arange(n)] = 0.0
    rows, cols = linear_sum_assignment(padded)
    keep = cols < m
    rows, cols = rows[keep], cols[keep]
    ok = allowed[rows, cols]
    return rows[ok], cols[ok]


def assign_bundles(
    bundles: Sequence[Bundle],
    couriers: Sequence[CourierState],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
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

    Returns
    -------
    (assignments, leftover)
        Assignments in wave order; bundles no courier can take.
    """
    states = list(couriers)
    remaining = list(bundles)
    out: list[Assignment] = []
    for wave in range(1, policy.max_waves + 1):
        if not remaining or not states:
            break
        cost, feasible = cost_matrix(states, remaining, travel=travel, now=now, policy=policy)
        rows, cols = match(cost, feasible)
        taken: set[int] = set()
        for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
            courier, bundle = states[r], remaining[c]
            timing = time_route(
                location=courier.location,
                start_at=max(now, courier.free_at),
                store_location=bundle.store_location,
                ready_at=bundle.ready_at,
                dropoffs=[o.dropoff for o in bundle.orders],
                travel=travel,
                policy=policy,
            )
            out.append(Assignment(courier=courier, bundle=bundle, wave=wave, timing=timing))
            states[r] = replace(
                courier, location=bundle.orders[-1].dropoff, free_at=timing.free_at
            )
            taken.add(c)
        if not taken:
            break
        remaining = [b for i, b in enumerate(remaining) if i not in taken]
    return out, remaining

