"""The honest prediction: when a new order would reach the door, from the round's own plan.

Intake asks this between rounds, with the couriers as the last plan leaves them (every
committed and tentative route done) and the orders it has booked since. It times the trip
with ``time_route``, the function the round times its routes with, so the promise given at
intake and the round's prediction come from one model.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from dispatch.engine.model import EnginePolicy, TravelTime
from dispatch.engine.timing import RouteTiming, time_route


def earliest_trip(
    *,
    locations: Sequence[Hashable],
    free_at: np.ndarray,
    to_store_s: np.ndarray,
    shift_ends_at: np.ndarray,
    now: float,
    store_location: Hashable,
    ready_at: float,
    dropoff: Hashable,
    travel: TravelTime,
    policy: EnginePolicy,
) -> tuple[int, RouteTiming] | None:
    """The courier that would pick the order up soonest, and the trip's timing.

    Parameters
    ----------
    locations, free_at, shift_ends_at
        Where and when each courier is next free, and when its shift ends.
    to_store_s
        Seconds from each courier's location to the store (``inf`` when out of reach).
    now
        The current time; no courier starts before it.
    store_location, ready_at, dropoff
        The order: where and when it is ready, and where it goes.
    travel, policy
        As for the round.

    Returns
    -------
    (courier index, RouteTiming), or None when no courier reaches the store in its shift.
    """
    if len(locations) == 0:
        return None
    start = np.maximum(free_at, now)
    pickup = np.maximum(ready_at, start + to_store_s + policy.pickup_half_s)
    pickup = np.where(pickup <= shift_ends_at, pickup, np.inf)
    best = int(np.argmin(pickup))
    if not np.isfinite(pickup[best]):
        return None
    timing = time_route(
        location=locations[best],
        start_at=float(start[best]),
        store_location=store_location,
        ready_at=ready_at,
        dropoffs=(dropoff,),
        travel=travel,
        policy=policy,
    )
    return best, timing
