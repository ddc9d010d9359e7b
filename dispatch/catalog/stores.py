"""Store registration and stock syncs as the API performs them: database, view, catalog, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.ports import StoreRecords, SyncObserver
from geo.errors import OutOfArea
from stores.errors import StaleVersion
from stores.model import StockChange, Store, SyncResult
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
    ) -> None:
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
