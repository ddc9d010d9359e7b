"""Prepositioning: idle couriers spread over the places where orders are expected."""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from dispatch.engine.legs import StoreLegs
from dispatch.engine.model import CourierState, EnginePolicy, Reposition, Route, TravelTime


def _slots(hotspots: Mapping[Hashable, float], n: int) -> list[Hashable]:
    """``n`` places, each hotspot taken in proportion to its weight (largest remainder)."""
    items = sorted(
        ((w, str(p), p) for p, w in hotspots.items() if w > 0), key=lambda t: (-t[0], t[1])
    )
    total = sum(w for w, _, _ in items)
    if not items or n <= 0:
        return []
    quotas = [(n * w / total, key, p) for w, key, p in items]
    counts = {key: math.floor(q) for q, key, _ in quotas}
    left = n - sum(counts.values())
    for _, key, _ in sorted(quotas, key=lambda t: (-(t[0] - math.floor(t[0])), t[1]))[:left]:
        counts[key] += 1
    return [p for _, key, p in quotas for _ in range(counts[key])]


def plan_repositions(
    *,
    couriers: Sequence[CourierState],
    routes: Sequence[Route],
    hotspots: Mapping[Hashable, float],
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
) -> tuple[Reposition, ...]:
    """Send idle couriers toward demand, nearest-first, one courier per demand share.

    A courier is idle when it is free now and has no route in the plan (not even a
    tentative one: moving it would break the plan that predicts an order's delivery).
    Idle couriers, together with the couriers that finish their committed work within
    ``reposition_cover_s`` and have nothing planned after it (they will soon be free where
    that work ends, and cover the demand near it), are matched (``linear_sum_assignment``
    on travel time) to places drawn from ``hotspots`` in proportion to their weights; an
    idle courier moves only when its place is between ``reposition_min_s`` and
    ``reposition_max_s`` away.

    Parameters
    ----------
    couriers
        The round's couriers.
    routes
        The round's routes (committed and tentative).
    hotspots
        Expected demand per location (any non-negative weights; empty: no moves).
    travel, now, policy
        Travel-time function, time of the round, thresholds.

    Returns
    -------
    tuple of Reposition
        Sorted by courier id.
    """
    idle, covering = _free_couriers(couriers, routes, now=now, policy=policy)
    if not idle:
        return ()
    pool = idle + covering
    places = _slots(hotspots, len(pool))
    if not places:
        return ()
    cost, rows, cols = _match_places(pool, places, travel)
    out = []
    for r, k in zip(rows.tolist(), cols.tolist(), strict=True):
        if r >= len(idle):
            continue
        if policy.reposition_min_s <= cost[r, k] <= policy.reposition_max_s:
            out.append(Reposition(courier_id=idle[r].courier_id, location=places[k]))
    return tuple(sorted(out, key=lambda m: m.courier_id))


def _free_couriers(
    couriers: Sequence[CourierState],
    routes: Sequence[Route],
    *,
    now: float,
    policy: EnginePolicy,
) -> tuple[list[CourierState], list[CourierState]]:
    """Couriers without a route in the plan: idle now, and soon free (covering), by id."""
    busy = {r.courier_id for r in routes}
    idle = sorted(
        (c for c in couriers if c.free_at <= now and c.courier_id not in busy),
        key=lambda c: c.courier_id,
    )
    horizon = now + policy.reposition_cover_s
    covering = sorted(
        (
            c
            for c in couriers
            if c.courier_id not in busy and now < c.free_at <= horizon
        ),
        key=lambda c: c.courier_id,
    )
    return idle, covering


def _match_places(
    pool: Sequence[CourierState], places: Sequence[Hashable], travel: TravelTime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Couriers matched to places by least total travel: (travel cost, rows, columns).

    Unreachable pairs cost a large finite number so that the assignment always exists.
    """
    # Places repeat (one slot per share of demand): ask the travel once per distinct place.
    distinct = list(dict.fromkeys(places))
    column = {p: j for j, p in enumerate(distinct)}
    legs = StoreLegs(distinct, travel).matrix([c.location for c in pool])
    cost = legs[:, [column[p] for p in places]]
    cost = np.where(np.isfinite(cost), cost, 1e12)
    rows, cols = linear_sum_assignment(cost)
    return cost, rows, cols
