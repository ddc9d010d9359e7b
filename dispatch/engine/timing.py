"""Route timing: when a courier reaches the store, picks up, drops off; the must-leave-now rule."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

from dispatch.engine.model import EnginePolicy, TravelTime


@dataclass(frozen=True, slots=True)
class RouteTiming:
    """The times of one trip; all in the engine's time unit (seconds)."""

    depart_at: float
    arrive_store_at: float
    pickup_at: float
    dropoff_at: tuple[float, ...]
    free_at: float
    leave_by: float


def drop_offsets(
    store_location: Hashable,
    dropoffs: Sequence[Hashable],
    *,
    travel: TravelTime,
    policy: EnginePolicy,
) -> tuple[float, ...]:
    """Time from the pickup to each drop-off, visiting ``dropoffs`` in the given order.

    Parameters
    ----------
    store_location
        Where the bundle is picked up.
    dropoffs
        Drop-off locations in delivery sequence.
    travel
        Travel-time function.
    policy
        Gives the service times at the store and at the door.

    Returns
    -------
    tuple of float
        One offset per drop-off: the handover time minus the pickup time.
    """
    offsets: list[float] = []
    t = policy.pickup_half_s
    here = store_location
    for place in dropoffs:
        t += travel(here, place) + policy.dropoff_half_s
        offsets.append(t)
        t += policy.dropoff_half_s
        here = place
    return tuple(offsets)


def best_sequence(
    store_location: Hashable,
    dropoffs: Sequence[Hashable],
    *,
    travel: TravelTime,
    policy: EnginePolicy,
    weights: Sequence[float] | None = None,
) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The delivery order that minimises the (weighted) sum of drop-off offsets.

    Parameters
    ----------
    store_location
        Where the bundle is picked up.
    dropoffs
        Drop-off locations, in any order (a handful: every permutation is tried).
    travel
        Travel-time function.
    policy
        Gives the service times.
    weights
        Optional weight per drop-off (default 1 each); ties keep the first permutation.

    Returns
    -------
    (permutation, offsets)
        Indices into ``dropoffs`` in delivery order, and the offsets of that order.
    """
    w = list(weights) if weights is not None else [1.0] * len(dropoffs)
    best: tuple[float, tuple[int, ...], tuple[float, ...]] | None = None
    for perm in itertools.permutations(range(len(dropoffs))):
        offs = drop_offsets(
            store_location, [dropoffs[i] for i in perm], travel=travel, policy=policy
        )
        score = sum(w[i] * o for i, o in zip(perm, offs, strict=True))
        if best is None or score < best[0]:
            best = (score, perm, offs)
    assert best is not None
    return best[1], best[2]


def time_route(
    *,
    location: Hashable,
    start_at: float,
    store_location: Hashable,
    ready_at: float,
    dropoffs: Sequence[Hashable],
    travel: TravelTime,
    policy: EnginePolicy,
    depart_now: bool = False,
) -> RouteTiming:
    """Time a trip of a courier free at ``location`` from ``start_at``.

    The courier leaves at ``leave_by`` (just in time for the ready time) or at once when that
    is already past, or at ``start_at`` whatever the ready time when ``depart_now`` is set
    (a committed route waits at the store, not at home). The pickup is at
    ``max(ready_at, arrival + pickup_service_s / 2)``.

    Parameters
    ----------
    location, start_at
        Where and when the courier becomes free.
    store_location, ready_at
        The store and the time the whole bundle is ready.
    dropoffs
        Drop-off locations in delivery sequence.
    travel, policy
        Travel-time function and service times.
    depart_now
        Leave at ``start_at`` rather than just in time.

    Returns
    -------
    RouteTiming
    """
    to_store = travel(location, store_location)
    leave_by = ready_at - policy.pickup_half_s - to_store
    depart = start_at if depart_now else max(start_at, leave_by)
    arrive = depart + to_store
    pickup = max(ready_at, arrive + policy.pickup_half_s)
    offs = drop_offsets(store_location, dropoffs, travel=travel, policy=policy)
    drops = tuple(pickup + o for o in offs)
    free = (drops[-1] if drops else pickup) + (
        policy.dropoff_half_s if drops else policy.pickup_half_s
    )
    return RouteTiming(
        depart_at=depart,
        arrive_store_at=arrive,
        pickup_at=pickup,
        dropoff_at=drops,
        free_at=free,
        leave_by=leave_by,
    )


def must_leave_now(*, leave_by: float, free_at: float, now: float, policy: EnginePolicy) -> bool:
    """Whether a planned trip must be committed in this round.

    A courier that is still busy is never committed (it gets no new instruction during a
    trip). A free courier must leave now when waiting for the next round would make it miss
    the ready time: ``leave_by < now + round_interval_s + commit_slack_s``.

    Parameters
    ----------
    leave_by
        Latest departure that still reaches the store by the ready time.
    free_at
        When the courier finishes its committed work.
    now
        Time of this round.
    policy
        Gives the round interval and the commit slack.

    Returns
    -------
    bool
    """
    if free_at > now:
        return False
    return leave_by < now + policy.round_interval_s + policy.commit_slack_s
