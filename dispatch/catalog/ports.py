"""What store registration and stock sync need from storage and metrics (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dispatch.orders.events import Actor
from stores.model import StockChange, StockLevel, Store, StoreStatus, SyncResult


class StoreRecords(Protocol):
    async def upsert_store(self, store: Store, *, now: datetime) -> tuple[Store, bool]: ...

    async def list_stores(self) -> list[Store]: ...

    async def get_store(self, store_id: str) -> Store: ...

    async def read_stock(
        self, store_id: str, *, skus: Sequence[str] | None = None, after: str | None = None, limit: int = 1000
    ) -> tuple[int, list[StockLevel]]: ...

    async def replace_stock(
        self, store_id: str, *, version: int, items: Sequence[tuple[str, int]], now: datetime
    ) -> SyncResult: ...

    async def apply_changes(
        self, store_id: str, *, version: int, changes: Sequence[StockChange], now: datetime
    ) -> SyncResult: ...


class StoreStatuses(Protocol):
    async def set_status(
        self, store_id: str, status: StoreStatus, *, actor: Actor, now: datetime
    ) -> tuple[StoreStatus, bool]:
        """The status now, and whether this call changed it."""
        ...

    async def expire(self, *, now: datetime) -> list[str]: ...

    async def statuses(self) -> dict[str, StoreStatus]: ...


class SyncObserver(Protocol):
    def ensure_zone(self, zone: str) -> None: ...

    def stock_synced(self, kind: str, result: str) -> None: ...

    def stock_fell_short(self, zone: str, skus: int) -> None: ...

    def operator_action(self, action: str) -> None: ...
