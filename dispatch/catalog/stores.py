"""Store registration and stock syncs as the API performs them: database, view, catalog, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.ports import StoreRecords, StoreStatuses, SyncObserver
from dispatch.orders.events import Actor
from geo.errors import OutOfArea
from stores.errors import StaleVersion, StoreNotFound
from stores.model import StockChange, Store, StoreStatus, SyncResult
from stores.stock_view import StockView

ShortfallHook = Callable[[str, SyncResult, datetime], Awaitable[None]]


class StoreService:
    def __init__(
        self,
        *,
        repository: StoreRecords,
        keeper: CatalogKeeper,
        stock_view: StockView,
        metrics: SyncObserver,
        max_snap_m: float,
        statuses: StoreStatuses | None = None,
    ) -> None:
        self.statuses = statuses
        self.repository = repository
        self.keeper = keeper
        self.stock_view = stock_view
        self.metrics = metrics
        self.max_snap_m = max_snap_m
        self.on_shortfall: ShortfallHook | None = None

    async def register(self, store: Store, *, now: datetime) -> tuple[Store, bool]:
        """Create or update a store; a location off the road network is ``out_of_area``."""
        try:
            snap = self.keeper.network.snap(store.lat, store.lon, max_distance_m=self.max_snap_m)
        except OutOfArea as exc:
            raise OutOfArea(
                f"the store location ({store.lat}, {store.lon}) is more than {self.max_snap_m:.0f} m"
                " from the road network"
            ) from exc
        del snap
        saved, created = await self.repository.upsert_store(store, now=now)
        self.metrics.ensure_zone(saved.zone)
        if not self.keeper.replace_store_in_place(saved):
            await self.keeper.rebuild(self.repository.list_stores)
        return saved, created

    async def replace_stock(
        self, store_id: str, *, version: int, items: Sequence[tuple[str, int]], now: datetime
    ) -> SyncResult:
        result = await self._counted(
            "snapshot",
            self.repository.replace_stock(store_id, version=version, items=items, now=now),
        )
        self.stock_view.replace_store(store_id, result.available or {})
        await self._report_shortfalls(store_id, result, now)
        return result

    async def apply_changes(
        self, store_id: str, *, version: int, changes: Sequence[StockChange], now: datetime
    ) -> SyncResult:
        result = await self._counted(
            "delta",
            self.repository.apply_changes(store_id, version=version, changes=changes, now=now),
        )
        self.stock_view.set_many(store_id, result.available or {})
        await self._report_shortfalls(store_id, result, now)
        return result

    async def _counted(self, kind: str, work: Awaitable[SyncResult]) -> SyncResult:
        try:
            result = await work
        except StaleVersion:
            self.metrics.stock_synced(kind, "stale")
            raise
        except Exception:
            self.metrics.stock_synced(kind, "rejected")
            raise
        self.metrics.stock_synced(kind, "applied")
        return result

    async def _report_shortfalls(self, store_id: str, result: SyncResult, now: datetime) -> None:
        if not result.shortfalls:
            return
        store = self.keeper.current.store(store_id)
        zone = store.zone if store else "unknown"
        self.metrics.stock_fell_short(zone, len(result.shortfalls))
        if self.on_shortfall is not None:
            await self.on_shortfall(store_id, result, now)

    async def set_status(self, store_id: str, status: StoreStatus, *, actor: Actor, now: datetime) -> Store:
        """Online / busy / paused, by an operator or the store itself; store choice sees it at once."""
        if self.statuses is None:
            raise RuntimeError("StoreService.statuses is not wired")
        saved, changed = await self.statuses.set_status(store_id, status, actor=actor, now=now)
        if changed:
            self.metrics.operator_action("store_status")
        self.apply_statuses({store_id: saved})
        store = self.keeper.current.store(store_id)
        if store is None:
            raise StoreNotFound(f"no store {store_id!r} in the catalog")
        return store

    def apply_statuses(self, statuses: Mapping[str, StoreStatus]) -> int:
        """Put statuses read elsewhere (another process, an expiry) into the catalog; how many changed."""
        changed = 0
        for store_id, status in statuses.items():
            store = self.keeper.current.store(store_id)
            if store is not None and store.status != status:
                self.keeper.replace_store_in_place(replace(store, status=status))
                changed += 1
        return changed

    async def reload_statuses(self) -> None:
        """Take every store's status as the database has it (set or ended by another process)."""
        if self.statuses is not None:
            self.apply_statuses(await self.statuses.statuses())

    async def refresh_statuses(self, *, now: datetime) -> list[str]:
        """End the statuses whose time is up, then take every store's status as the database has it."""
        if self.statuses is None:
            return []
        ended = await self.statuses.expire(now=now)
        self.apply_statuses(await self.statuses.statuses())
        return ended
