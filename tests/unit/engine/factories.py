"""Small value factories for engine tests: points in metres, a 5 m/s courier, seconds."""

from __future__ import annotations

import math
from collections.abc import Hashable

from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder

SPEED_M_PER_S = 5.0


def travel(a: Hashable, b: Hashable) -> float:
    """Euclidean travel time in whole seconds between two (x, y) points in metres."""
    (ax, ay), (bx, by) = a, b  # type: ignore[misc]
    return float(math.ceil(math.hypot(bx - ax, by - ay) / SPEED_M_PER_S))


def order(
    order_id: str,
    *,
    store: str = "s1",
    store_at: tuple[float, float] = (0.0, 0.0),
    to: tuple[float, float] = (3000.0, 0.0),
    placed: float = 0.0,
    ready: float = 600.0,
    promise: float | None = None,
) -> OpenOrder:
    return OpenOrder(
        order_id=order_id,
        store_id=store,
        store_location=store_at,
        dropoff=to,
        placed_at=placed,
        ready_at=ready,
        promised_by=placed + 1800.0 if promise is None else promise,
    )


def courier(
    courier_id: str,
    *,
    at: tuple[float, float] = (0.0, 0.0),
    free: float = 0.0,
    ends: float = 36000.0,
    capacity: int = 3,
) -> CourierState:
    return CourierState(
        courier_id=courier_id, location=at, free_at=free, shift_ends_at=ends, capacity=capacity
    )


POLICY = EnginePolicy(round_interval_s=5.0)
