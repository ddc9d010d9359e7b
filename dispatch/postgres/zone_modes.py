"""PostgreSQL adapter for zone modes: set, clear, expire, load (each change audited)."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from dispatch.catalog.zones import ZoneMode
from dispatch.orders.events import SYSTEM, Actor
from dispatch.postgres.store_status import record_action

_COLUMNS = (
    "zone, reason, radius_factor, promise_extension_minutes, closed, closed_area, on_overload, until, set_at"
)


def _mode(row: asyncpg.Record) -> ZoneMode:
    area = json.loads(row["closed_area"]) if row["closed_area"] is not None else None
    return ZoneMode(
        zone=row["zone"],
        reason=row["reason"],
        radius_factor=row["radius_factor"],
        promise_extension_minutes=row["promise_extension_minutes"],
        closed=row["closed"],
        closed_area=area,
        on_overload=row["on_overload"],
        until=row["until"],
        set_at=row["set_at"],
    )


def _body(mode: ZoneMode) -> dict:
    return {
        "radius_factor": mode.radius_factor,
        "promise_extension_minutes": mode.promise_extension_minutes,
        "closed": mode.closed,
        "closed_area": mode.closed_area,
        "on_overload": mode.on_overload,
        "until": mode.until.isoformat() if mode.until else None,
    }


class PostgresZoneModes:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def set_mode(self, mode: ZoneMode, *, actor: Actor, now: datetime) -> tuple[ZoneMode, bool]:
        """Set the zone's mode (idempotent: the same mode again changes and records nothing)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM zone_modes WHERE zone = $1 FOR UPDATE", mode.zone
            )
            if row is not None and _body(_mode(row)) == _body(mode) and row["reason"] == mode.reason:
                return _mode(row), False
            row = await conn.fetchrow(
                "INSERT INTO zone_modes (zone, reason, radius_factor, promise_extension_minutes, closed,"
                " closed_area, on_overload, until, set_at, set_by)"
                " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10)"
                " ON CONFLICT (zone) DO UPDATE SET reason = EXCLUDED.reason,"
                " radius_factor = EXCLUDED.radius_factor,"
                " promise_extension_minutes = EXCLUDED.promise_extension_minutes, closed = EXCLUDED.closed,"
                " closed_area = EXCLUDED.closed_area, on_overload = EXCLUDED.on_overload,"
                " until = EXCLUDED.until,"
                f" set_at = EXCLUDED.set_at, set_by = EXCLUDED.set_by RETURNING {_COLUMNS}",
                mode.zone,
                mode.reason,
                mode.radius_factor,
                mode.promise_extension_minutes,
                mode.closed,
                json.dumps(mode.closed_area) if mode.closed_area is not None else None,
                mode.on_overload,
                mode.until,
                now,
                actor.id,
            )
            await record_action(
                conn, "zone_mode", mode.zone, actor=actor, reason=mode.reason, body=_body(mode), at=now
            )
            return _mode(row), True

    async def clear(self, zone: str, *, actor: Actor, reason: str, now: datetime) -> bool:
        """Back to normal; clearing a zone without a mode is harmless (False)."""
        async with self._pool.acquire() as conn, conn.transaction():
            gone = await conn.fetchval("DELETE FROM zone_modes WHERE zone = $1 RETURNING zone", zone)
            if gone is None:
                return False
            await record_action(conn, "zone_mode_cleared", zone, actor=actor, reason=reason, body={}, at=now)
            return True

    async def expire(self, *, now: datetime) -> list[str]:
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch("DELETE FROM zone_modes WHERE until <= $1 RETURNING zone", now)
            zones = sorted(r["zone"] for r in rows)
            for zone in zones:
                await record_action(
                    conn, "zone_mode_cleared", zone, actor=SYSTEM, reason="the mode ended", body={}, at=now
                )
            return zones

    async def modes(self) -> list[ZoneMode]:
        return [_mode(r) for r in await self._pool.fetch(f"SELECT {_COLUMNS} FROM zone_modes ORDER BY zone")]
