"""The couriers as the latest round's plan leaves them, kept for intake between rounds.

The round publishes where and when each courier is next free once every route of its plan
(committed and tentative) is done; intake predicts each new order on it and books the courier
it would take, so a burst of orders between two rounds sees the queue it makes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from dispatch.engine.model import CourierState, EnginePolicy, RoundPlan, TravelTime
from dispatch.engine.outlook import earliest_trip
from dispatch.engine.timing import RouteTiming
from dispatch.round.inputs import epoch
from stores.catalog import StoreCatalog


class CourierOutlook:
    """Per courier: next free location (a road node) and time, shift end; the rides to every store."""

    def __init__(
        self,
        catalog: StoreCatalog,
        locations: Sequence[int],
        free_at: Sequence[float],
        shift_ends_at: Sequence[float],
        *,
        travel: TravelTime,
        policy: EnginePolicy,
    ) -> None:
        self.catalog = catalog
        self.travel = travel
        self.policy = policy
        self.locations = list(locations)
        self.free_at = np.asarray(free_at, dtype=np.float64)
        self.shift_ends_at = np.asarray(shift_ends_at, dtype=np.float64)
        self._eta = self._rides(np.asarray(self.locations, dtype=np.int64))

    def _rides(self, nodes: np.ndarray) -> np.ndarray:
        tables = self.catalog.tables
        if tables is None or nodes.size == 0:
            return np.full((nodes.size, len(self.catalog.stores)), np.inf)
        return tables.eta_matrix(nodes).astype(np.float64)

    @classmethod
    def after(
        cls,
        plan: RoundPlan,
        couriers: Sequence[CourierState],
        *,
        dropoffs: Mapping[str, int],
        catalog: StoreCatalog,
        travel: TravelTime,
        policy: EnginePolicy,
    ) -> CourierOutlook:
        """Each courier once every route the plan gives it is done (or as it is, without one)."""
        last: dict[str, tuple[float, int]] = {}
        for route in plan.routes:
            end = dropoffs.get(route.order_ids[-1]) if route.order_ids else None
            if end is not None and route.free_at > last.get(route.courier_id, (-np.inf, 0))[0]:
                last[route.courier_id] = (route.free_at, end)
        locations, free, ends = [], [], []
        for c in couriers:
            free_at, location = last.get(c.courier_id, (c.free_at, int(c.location)))  # type: ignore[call-overload]
            locations.append(location)
            free.append(free_at)
            ends.append(c.shift_ends_at)
        return cls(catalog, locations, free, ends, travel=travel, policy=policy)

    def predict(
        self, store_id: str, *, ready_at: datetime, dropoff: int, now: datetime
    ) -> tuple[int, RouteTiming] | None:
        """The soonest trip a courier could make for a new order at ``store_id``, or None."""
        position = self.catalog.position(store_id)
        if position is None:
            return None
        return earliest_trip(
            locations=self.locations,
            free_at=self.free_at,
            to_store_s=self._eta[:, position],
            shift_ends_at=self.shift_ends_at,
            now=epoch(now),
            store_location=int(self.catalog.nodes[position]),
            ready_at=epoch(ready_at),
            dropoff=dropoff,
            travel=self.travel,
            policy=self.policy,
        )

    def book(self, courier: int, timing: RouteTiming, dropoff: int) -> None:
        """The courier takes this trip: it is next free at the door, after the trip."""
        self.free_at[courier] = timing.free_at
        self.locations[courier] = dropoff
        self._eta[courier] = self._rides(np.asarray([dropoff], dtype=np.int64))[0]


class LatestOutlook:
    """Where the round leaves its newest outlook for intake (None before the first round, and in a
    process that runs no rounds: intake then predicts from store choice alone)."""

    def __init__(self) -> None:
        self.current: CourierOutlook | None = None
