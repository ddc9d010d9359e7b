"""How busy each store is right now: packing queue, courier arrival estimate, open or closed.

Kept in memory by intake and the dispatch loop (which rebuilds it from the database every
round) and handed to the pure store choice as per-store arrays. The arrays are kept aligned
with the current catalog and updated in place, so an order costs O(1) here, not O(stores).
"""

from __future__ import annotations

import math
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np

from stores.catalog import StoreCatalog


class StoreLoad:
    def __init__(self, *, parallel_picks: int, default_courier_eta_s: float) -> None:
        self.queued: dict[str, int] = {}
        self.courier_eta_s: dict[str, float] = {}
        self.parallel_picks = parallel_picks
        self.default_courier_eta_s = default_courier_eta_s
        self._catalog: StoreCatalog | None = None
        self._queued = np.zeros(0)
        self._eta = np.zeros(0)
        self._ready = np.zeros(0)
        self._open_cache: tuple[int, int, np.ndarray] | None = None  # (catalog id, minute, mask)

    def order_reserved(self, store_id: str) -> None:
        self.queued[store_id] = self.queued.get(store_id, 0) + 1
        self._touch(store_id)

    def order_left(self, store_id: str) -> None:
        self.queued[store_id] = max(0, self.queued.get(store_id, 0) - 1)
        self._touch(store_id)

    def replace(self, queued: dict[str, int], courier_eta_s: dict[str, float]) -> None:
        self.queued = dict(queued)
        self.courier_eta_s = dict(courier_eta_s)
        self._catalog = None

    def _touch(self, store_id: str) -> None:
        catalog = self._catalog
        if catalog is None:
            return
        i = catalog.position(store_id)
        if i is None:
            return
        self._queued[i] = self.queued.get(store_id, 0)
        waves = 1 + self._queued[i] // self.parallel_picks
        self._ready[i] = max(catalog.pick_s[i] * waves, self._eta[i])

    def _align(self, catalog: StoreCatalog) -> None:
        if self._catalog is catalog:
            return
        ids = catalog.store_ids
        self._queued = np.array([self.queued.get(s, 0) for s in ids], dtype=np.float64)
        self._eta = np.array(
            [self.courier_eta_s.get(s, self.default_courier_eta_s) for s in ids], dtype=np.float64
        )
        waves = 1 + self._queued // self.parallel_picks
        self._ready = np.maximum(catalog.pick_s * waves, self._eta)
        self._catalog = catalog

    def ready_in_s(self, catalog: StoreCatalog) -> np.ndarray:
        """Seconds until an order placed now could leave each store: packed and a courier there."""
        self._align(catalog)
        return self._ready

    def pick_ready_in_s(self, catalog: StoreCatalog, position: int) -> float:
        self._align(catalog)
        waves = 1 + self._queued[position] // self.parallel_picks
        return float(catalog.pick_s[position] * waves)

    def open_mask(self, catalog: StoreCatalog, now: datetime, tz: ZoneInfo) -> np.ndarray:
        minute = math.floor(now.timestamp() / 60)
        cached = self._open_cache
        if cached is not None and cached[0] == id(catalog) and cached[1] == minute:
            return cached[2]
        stores = catalog.stores
        mask = np.fromiter(
            (s.accepts_orders and s.is_open(now, tz) for s in stores), dtype=bool, count=len(stores)
        )
        self._open_cache = (id(catalog), minute, mask)
        return mask
