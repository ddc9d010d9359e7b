"""PostgreSQL adapter for stores and their stock: the authority on every unit."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, time

import asyncpg

from stores.errors import NegativeStock, StaleVersion, StoreNotFound
from stores.model import OpeningWindow, StockChange, StockLevel, Store, StoreStatus, SyncResult

_STORE_COLUMNS = (
    "store_id, name, lat, lon, zone, pick_minutes, radius_minutes, opening_hours, stock_version,"
    " status, extra_pick_minutes, status_until, status_reason, status_since"
)


def _opening_to_json(windows: tuple[OpeningWindow, ...] | None) -> str | None:
    if windows is None:
        return None
    return json.dumps(
        [
            {"days": sorted(w.days), "open": w.opens.strftime("%H:%M"), "close": w.closes.strftime("%H:%M")}
            for w in windows
        ]
    )


def _opening_from_json(raw: str | None) -> tuple[OpeningWindow, ...] | None:
    if raw is None:
        return None
    return tuple(
        OpeningWindow(
            days=frozenset(w["days"]),
            opens=time.fromisoformat(w["open"]),
            closes=time.fromisoformat(w["close"]),
        )
        for w in json.loads(raw)
    )


def _store(row: asyncpg.Record) -> Store:
    return Store(
        store_id=row["store_id"],
        name=row["name"],
        lat=row["lat"],
        lon=row["lon"],
        zone=row["zone"],
        pick_minutes=row["pick_minutes"],
        radius_minutes=row["radius_minutes"],
        opening_hours=_opening_from_json(row["opening_hours"]),
        stock_version=row["stock_version"],
        status=StoreStatus(
            row["status"],
            row["extra_pick_minutes"],
            row["status_until"],
            row["status_reason"],
            row["status_since"],
        ),
    )


class PostgresStoreRepository:
    """Stores and stock rows. Every write is one transaction settled by conditional statements."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def upsert_store(self, store: Store, *, now: datetime) -> tuple[Store, bool]:
        """Create or update a store (its stock version is kept); returns (store, created)."""
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes,
                                opening_hours, stock_version, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, 0, $9, $9)
            ON CONFLICT (store_id) DO UPDATE SET
                name = EXCLUDED.name, lat = EXCLUDED.lat, lon = EXCLUDED.lon, zone = EXCLUDED.zone,
                pick_minutes = EXCLUDED.pick_minutes, radius_minutes = EXCLUDED.radius_minutes,
                opening_hours = EXCLUDED.opening_hours, updated_at = EXCLUDED.updated_at
            RETURNING {_STORE_COLUMNS}, (xmax = 0) AS created
            """,
            store.store_id,
            store.name,
            store.lat,
            store.lon,
            store.zone,
            store.pick_minutes,
            store.radius_minutes,
            _opening_to_json(store.opening_hours),
            now,
        )
        return _store(row), bool(row["created"])

    async def get_store(self, store_id: str) -> Store:
        row = await self._pool.fetchrow(f"SELECT {_STORE_COLUMNS} FROM stores WHERE store_id = $1", store_id)
        if row is None:
            raise StoreNotFound(f"no store {store_id!r}")
        return _store(row)

    async def list_stores(self) -> list[Store]:
        rows = await self._pool.fetch(f"SELECT {_STORE_COLUMNS} FROM stores ORDER BY store_id")
        return [_store(r) for r in rows]

    async def _claim_version(
        self, conn: asyncpg.Connection, store_id: str, version: int, now: datetime
    ) -> None:
        """Take the store's version (row-locking it) or raise: stale, repeated, or unknown store."""
        claimed = await conn.fetchval(
            "UPDATE stores SET stock_version = $2, updated_at = $3"
            " WHERE store_id = $1 AND stock_version < $2 RETURNING stock_version",
            store_id,
            version,
            now,
        )
        if claimed is not None:
            return
        stored = await conn.fetchval("SELECT stock_version FROM stores WHERE store_id = $1", store_id)
        if stored is None:
            raise StoreNotFound(f"no store {store_id!r}")
        raise StaleVersion(store_id, version, stored)

    async def replace_stock(
        self,
        store_id: str,
        *,
        version: int,
        items: Sequence[tuple[str, int]],
        now: datetime,
    ) -> SyncResult:
        """A full snapshot: on-hand becomes exactly ``items``; absent SKUs go to 0; reservations stay."""
        skus = [sku for sku, _ in items]
        quantities = [qty for _, qty in items]
        async with self._pool.acquire() as conn, conn.transaction():
            await self._claim_version(conn, store_id, version, now)
            await conn.execute(
                """
                INSERT INTO stock (store_id, sku, on_hand)
                SELECT $1, t.sku, t.qty FROM unnest($2::text[], $3::bigint[]) AS t(sku, qty)
                ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = EXCLUDED.on_hand
                WHERE stock.on_hand IS DISTINCT FROM EXCLUDED.on_hand
                """,
                store_id,
                skus,
                quantities,
            )
            await conn.execute(
                "UPDATE stock SET on_hand = 0 WHERE store_id = $1 AND on_hand <> 0"
                " AND sku NOT IN (SELECT unnest($2::text[]))",
                store_id,
                skus,
            )
            reserved_rows = await conn.fetch(
                "SELECT sku, on_hand, reserved FROM stock WHERE store_id = $1 AND reserved > 0",
                store_id,
            )
            await self._record_sync(
                conn, store_id, kind="snapshot", version=version, skus=len(items), now=now
            )
        reserved = {r["sku"]: r["reserved"] for r in reserved_rows}
        available = {sku: max(0, qty - reserved.get(sku, 0)) for sku, qty in items}
        shortfalls = tuple(
            StockLevel(r["sku"], r["on_hand"], r["reserved"])
            for r in reserved_rows
            if r["reserved"] > r["on_hand"]
        )
        return SyncResult(store_id, version, len(items), shortfalls, available)

    async def apply_changes(
        self,
        store_id: str,
        *,
        version: int,
        changes: Sequence[StockChange],
        now: datetime,
    ) -> SyncResult:
        """Deltas and absolute quantities, all or nothing: a negative result rejects the whole body."""
        skus = sorted({c.sku for c in changes})
        async with self._pool.acquire() as conn, conn.transaction():
            await self._claim_version(conn, store_id, version, now)
            rows = await conn.fetch(
                "SELECT sku, on_hand, reserved FROM stock"
                " WHERE store_id = $1 AND sku = ANY($2::text[]) ORDER BY sku FOR UPDATE",
                store_id,
                skus,
            )
            on_hand = {r["sku"]: r["on_hand"] for r in rows}
            reserved = {r["sku"]: r["reserved"] for r in rows}
            negative: set[str] = set()
            for change in changes:
                current = on_hand.get(change.sku, 0)
                if change.quantity is not None:
                    current = change.quantity
                else:
                    current += change.delta or 0
                if current < 0:
                    negative.add(change.sku)
                on_hand[change.sku] = current
            if negative:
                raise NegativeStock(sorted(negative))
            await conn.execute(
                """
                INSERT INTO stock (store_id, sku, on_hand)
                SELECT $1, t.sku, t.qty FROM unnest($2::text[], $3::bigint[]) AS t(sku, qty)
                ON CONFLICT (store_id, sku) DO UPDATE SET on_hand = EXCLUDED.on_hand
                """,
                store_id,
                skus,
                [on_hand[s] for s in skus],
            )
            await self._record_sync(conn, store_id, kind="delta", version=version, skus=len(skus), now=now)
        available = {s: max(0, on_hand[s] - reserved.get(s, 0)) for s in skus}
        shortfalls = tuple(
            StockLevel(s, on_hand[s], reserved[s]) for s in skus if reserved.get(s, 0) > on_hand[s]
        )
        return SyncResult(store_id, version, len(skus), shortfalls, available)

    @staticmethod
    async def _record_sync(
        conn: asyncpg.Connection, store_id: str, *, kind: str, version: int, skus: int, now: datetime
    ) -> None:
        await conn.execute(
            "INSERT INTO stock_syncs (store_id, kind, version, skus, at) VALUES ($1, $2, $3, $4, $5)",
            store_id,
            kind,
            version,
            skus,
            now,
        )

    async def read_stock(
        self,
        store_id: str,
        *,
        skus: Sequence[str] | None = None,
        after: str | None = None,
        limit: int = 1000,
    ) -> tuple[int, list[StockLevel]]:
        """The store's version and stock levels: the given SKUs, or a page ordered by SKU."""
        async with self._pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
            version = await conn.fetchval("SELECT stock_version FROM stores WHERE store_id = $1", store_id)
            if version is None:
                raise StoreNotFound(f"no store {store_id!r}")
            if skus:
                rows = await conn.fetch(
                    "SELECT sku, on_hand, reserved FROM stock"
                    " WHERE store_id = $1 AND sku = ANY($2::text[]) ORDER BY sku",
                    store_id,
                    list(skus),
                )
                found = {r["sku"]: r for r in rows}
                levels = [
                    StockLevel(s, found[s]["on_hand"], found[s]["reserved"])
                    if s in found
                    else StockLevel(s, 0, 0)
                    for s in dict.fromkeys(skus)
                ]
                return version, levels
            rows = await conn.fetch(
                "SELECT sku, on_hand, reserved FROM stock WHERE store_id = $1 AND sku > $2"
                " ORDER BY sku LIMIT $3",
                store_id,
                after or "",
                limit,
            )
        return version, [StockLevel(r["sku"], r["on_hand"], r["reserved"]) for r in rows]

    async def load_availability(self) -> dict[str, dict[str, int]]:
        """Available units of every SKU of every store, to seed the in-memory view at start."""
        rows = await self._pool.fetch(
            "SELECT store_id, sku, on_hand - reserved AS available FROM stock WHERE on_hand > reserved"
        )
        view: dict[str, dict[str, int]] = {}
        for r in rows:
            view.setdefault(r["store_id"], {})[r["sku"]] = r["available"]
        return view
