"""Travel times for the engine over the road network: tables for store legs, a cached search else."""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import cast

from geo.network import RoadNetwork
from stores.catalog import StoreCatalog


class NetworkTravel:
    """``travel(a, b)`` in seconds between road nodes, for one dispatch round.

    Legs to or from a store come from the precomputed tables (microseconds); other legs (one
    drop-off to the next, a courier's last drop-off) use the network's cached point-to-point
    search. Answers are memoised for the round.
    """

    def __init__(self, network: RoadNetwork, catalog: StoreCatalog) -> None:
        self.network = network
        self.catalog = catalog
        self._store_at_node: dict[int, int] = {int(n): i for i, n in enumerate(catalog.nodes)}
        self._memo: dict[tuple[int, int], float] = {}

    def __call__(self, a_location: Hashable, b_location: Hashable) -> float:
        a, b = int(cast(int, a_location)), int(cast(int, b_location))  # the service's locations are nodes
        if a == b:
            return 0.0
        key = (a, b)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        tables = self.catalog.tables
        value = math.inf
        if tables is not None:
            store_b = self._store_at_node.get(b)
            store_a = self._store_at_node.get(a)
            if store_b is not None:
                value = tables.to_store_s(a, store_b)
            elif store_a is not None:
                value = tables.from_store_s(store_a, b)
        if math.isinf(value):
            value = self.network.travel_time_s(a, b)
        self._memo[key] = value
        return value
