"""The store catalog: registered stores placed on the road network with their travel tables.

A catalog is an immutable value. The service builds a new one off the event loop whenever
stores change and swaps a reference; readers keep using the old one until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from stores.model import Store

if TYPE_CHECKING:
    from geo.network import RoadNetwork
    from geo.tables import TravelTimeTables


@dataclass(frozen=True, slots=True)
class StoreCatalog:
    stores: tuple[Store, ...]
    nodes: np.ndarray  # road node of each store
    tables: TravelTimeTables | None
    radius_s: np.ndarray
    pick_s: np.ndarray
    index: dict[str, int] = field(default_factory=dict)
    store_ids: tuple[str, ...] = ()  # by position, kept so the hot path never rebuilds it

    def position(self, store_id: str) -> int | None:
        return self.index.get(store_id)

    def store(self, store_id: str) -> Store | None:
        i = self.index.get(store_id)
        return None if i is None else self.stores[i]

    def zones(self) -> set[str]:
        return {s.zone for s in self.stores}


def empty_catalog() -> StoreCatalog:
    return StoreCatalog((), np.zeros(0, dtype=np.int64), None, np.zeros(0), np.zeros(0), {}, ())


def build_catalog(
    stores: Sequence[Store],
    network: RoadNetwork,
    *,
    max_snap_m: float,
    cutoff_s: float,
) -> StoreCatalog:
    """Snap every store and build the store ↔ node travel-time tables (CPU work: call off-loop).

    Stores that no longer snap (e.g. a new, smaller network) are left out rather than failing
    the whole catalog; registration refuses such stores in the first place.
    """
    from geo.errors import OutOfArea
    from geo.tables import build_tables

    placed: list[Store] = []
    nodes: list[int] = []
    for store in sorted(stores, key=lambda s: s.store_id):
        try:
            snap = network.snap(store.lat, store.lon, max_distance_m=max_snap_m)
        except OutOfArea:
            continue
        placed.append(store)
        nodes.append(snap.node)
    node_array = np.asarray(nodes, dtype=np.int64)
    tables = build_tables(network, node_array, cutoff_s=cutoff_s) if placed else None
    return StoreCatalog(
        stores=tuple(placed),
        nodes=node_array,
        tables=tables,
        radius_s=np.asarray([s.radius_minutes * 60.0 for s in placed], dtype=np.float64),
        pick_s=np.asarray([s.effective_pick_minutes * 60.0 for s in placed], dtype=np.float64),
        index={s.store_id: i for i, s in enumerate(placed)},
        store_ids=tuple(s.store_id for s in placed),
    )
