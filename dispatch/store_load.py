"""How busy each store is right now: packing queue, courier arrival estimate, open or closed.

Kept in memory by intake and the dispatch loop, rebuilt from the database by each round, and
turned into the per-store arrays the pure store choice takes.
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from stores.catalog import StoreCatalog


class StoreLoad:
    def __init__(self, *, parallel_picks: int = 2, default_courier_eta_s: float = 300.0) -> None:
        self.queued: dict[str, int] = {}
        self.courier_eta_s: dict[str, float] = {}
        self.parallel_picks = parallel_picks
        self.default_courier_eta_s = default_courier_eta_s
        self._open_cache: tuple[int, int, np.ndarray] | None = None  # (catalog id, minute, mask)

    def order_reserved(self, store_id: str) -> None:
        self.queued[store_id] = self.queued.get(store_id, 0) + 1

    def order_left(self, store_id: str) -> None:
        self.queued[store_id] = max(0, self.queued.get(store_id, 0) - 1)

    def replace(self, queued: dict[str, int], courier_eta_s: dict[str, float]) -> None:
        self.queued = dict(queued)
        self.courier_eta_s = dict(courier_eta_s)

    def ready_in_s(self, catalog: StoreCatalog) -> np.ndarray:
        """Seconds until an order placed now could leave each store: packed and a courier there."""
        out = np.empty(len(catalog.stores), dtype=np.float64)
        for i, store in enumerate(catalog.stores):
            waves = 1 + self.queued.get(store.store_id, 0) // self.parallel_picks
            pick = catalog.pick_s[i] * waves
            out[i] = max(pick, self.courier_eta_s.get(store.store_id, self.default_courier_eta_s))
        return out

    def pick_ready_in_s(self, catalog: StoreCatalog, position: int) -> float:
        store = catalog.stores[position]
        waves = 1 + self.queued.get(store.store_id, 0) // self.parallel_picks
        return float(catalog.pick_s[position] * waves)

    def open_mask(self, catalog: StoreCatalog, now: datetime, tz: ZoneInfo) -> np.ndarray:
        minute = math.floor(now.timestamp() / 60)
        cached = self._open_cache
        if cached is not None and cached[0] == id(catalog) and cached[1] == minute:
            return cached[2]
        mask = np.fromiter(
            (s.is_open(now, tz) for s in catalog.stores), dtype=bool, count=len(catalog.stores)
        )
        self._open_cache = (id(catalog), minute, mask)
        return mask
