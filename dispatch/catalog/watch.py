"""Catalog watch: a process that runs no rounds still sees the stores other processes changed.

The dispatch loop reloads stores, store statuses and zone modes every round; an API-only
process (``serve --role api``, each ``serve --workers`` process) has no round, so without this
a store registered through one worker would be unknown to the others until they restart.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.stores import StoreService
from dispatch.catalog.zone_service import ZoneModeService
from stores.model import Store

log = logging.getLogger("flashdispatch.catalog")


class CatalogWatch:
    """Every ``interval_s``: rebuild the catalog if the stores' signature moved; reload statuses, modes."""

    def __init__(
        self, *, signature: Callable[[], Awaitable[object]],
        load_stores: Callable[[], Awaitable[list[Store]]], keeper: CatalogKeeper, stores: StoreService,
        zones: ZoneModeService, interval_s: float, transient_errors: tuple[type[BaseException], ...] = (),
    ) -> None:  # fmt: skip
        self._signature = signature
        self._load_stores = load_stores
        self._seen: object = None
        self.keeper = keeper
        self.stores = stores
        self.zones = zones
        self.interval_s = interval_s
        self.transient_errors = transient_errors

    async def tick(self) -> bool:
        """One look at the database; True when the catalog was rebuilt."""
        seen = await self._signature()
        rebuilt = seen != self._seen
        if rebuilt:
            await self.keeper.rebuild(self._load_stores)
            self._seen = seen
        await self.stores.reload_statuses()
        await self.zones.reload()
        return rebuilt

    async def run_forever(self) -> None:
        while True:
            try:
                await self.tick()
            except self.transient_errors as exc:  # the database is away: look again next time
                log.warning("catalog watch: database unavailable: %s", type(exc).__name__)
            await asyncio.sleep(self.interval_s)
