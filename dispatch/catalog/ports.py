"""What store registration and stock sync need from storage and metrics (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from stores.model import StockChange, StockLevel, Store, SyncResult


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


class SyncObserver(Protocol):
    def ensure_zone(self, zone: str) -> None: ...

    def stock_synced(self, kind: str, result: str) -> None: ...

    def stock_fell_short(self, zone: str, skus: int) -> None: ...
