"""Keeps the current store catalog and rebuilds it off the event loop when stores change."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from geo.network import RoadNetwork
from stores.catalog import StoreCatalog, build_catalog, empty_catalog
from stores.model import Store

log = logging.getLogger("flashdispatch.catalog")


class CatalogKeeper:
    """Readers take ``keeper.current`` (an immutable value); rebuilds swap it when ready."""

    def __init__(self, network: RoadNetwork, *, max_snap_m: float, cutoff_s: float) -> None:
        self.network = network
        self.current: StoreCatalog = empty_catalog()
        self._max_snap_m = max_snap_m
        self._cutoff_s = cutoff_s
        self._lock = asyncio.Lock()
        self._requested = 0
        self._built = 0

    async def rebuild(self, load_stores: Callable[[], Awaitable[list[Store]]]) -> StoreCatalog:
        """Build a catalog from the stores as they are now, in a worker thread, and swap it in.

        Concurrent requests coalesce: a build that started after a request was made serves it,
        so a burst of registrations costs one or two builds, and every caller returns only once
        a catalog containing its change is current.
        """
        self._requested += 1
        wanted = self._requested
        async with self._lock:
            if self._built >= wanted:
                return self.current
            target = self._requested
            stores = await load_stores()
            catalog = await asyncio.to_thread(
                build_catalog,
                stores,
                self.network,
                max_snap_m=self._max_snap_m,
                cutoff_s=self._cutoff_s,
            )
            self.current = catalog
            self._built = target
            log.info("store catalog rebuilt: %d stores", len(catalog.stores))
            return catalog

    def replace_store_in_place(self, store: Store) -> bool:
        """Metadata-only change (name, pick time, hours) at an unchanged location: no rebuild."""
        catalog = self.current
        i = catalog.position(store.store_id)
        if i is None:
            return False
        old = catalog.stores[i]
        if (old.lat, old.lon, old.radius_minutes) != (store.lat, store.lon, store.radius_minutes):
            return False
        stores = list(catalog.stores)
        stores[i] = store
        pick_s = catalog.pick_s.copy()
        pick_s[i] = store.effective_pick_minutes * 60.0
        self.current = StoreCatalog(
            tuple(stores), catalog.nodes, catalog.tables, catalog.radius_s, pick_s, catalog.index,
            catalog.store_ids,
        )
        return True
