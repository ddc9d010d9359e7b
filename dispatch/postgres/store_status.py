"""PostgreSQL adapter for store status (online / busy / paused, with an end) and its audit."""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from dispatch.orders.events import SYSTEM, Actor
from stores.errors import StoreNotFound
from stores.model import StoreStatus

_STATUS_COLUMNS = "store_id, status, extra_pick_minutes, status_until, status_reason, status_since"


def _status(row: asyncpg.Record) -> StoreStatus:
    return StoreStatus(
        row["status"],
        row["extra_pick_minutes"],
        row["status_until"],
        row["status_reason"],
        row["status_since"],
    )


async def record_action(
    conn: asyncpg.Connection,
    action: str,
    target: str,
    *,
    actor: Actor,
    reason: str | None,
    body: dict,
    at: datetime,
) -> None:
    """The audit row of a store or zone action, in the action's own transaction."""
    await conn.execute(
        "INSERT INTO operator_actions (action, target, actor_type, actor_id, reason, body, at)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7)",
        action,
        target,
        actor.type.value,
        actor.id,
        reason,
        json.dumps(body),
        at,
    )


class PostgresStoreStatus:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def set_status(
        self, store_id: str, status: StoreStatus, *, actor: Actor, now: datetime
    ) -> tuple[StoreStatus, bool]:
        """Set the status (idempotent: the same status again changes and records nothing)."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                f"SELECT {_STATUS_COLUMNS} FROM stores WHERE store_id = $1 FOR UPDATE", store_id
            )
            if row is None:
                raise StoreNotFound(f"no store {store_id!r}")
            current = _status(row)
            same = (current.state, current.extra_pick_minutes, current.until, current.reason) == (
                status.state,
                status.extra_pick_minutes,
                status.until,
                status.reason,
            )
            if same:
                return current, False
            row = await conn.fetchrow(
                "UPDATE stores SET status = $2, extra_pick_minutes = $3, status_until = $4,"
                f" status_reason = $5, status_since = $6 WHERE store_id = $1 RETURNING {_STATUS_COLUMNS}",
                store_id,
                status.state,
                status.extra_pick_minutes,
                status.until,
                status.reason,
                now,
            )
            body = {
                "status": status.state,
                "extra_pick_minutes": status.extra_pick_minutes,
                "until": status.until.isoformat() if status.until else None,
            }
            await record_action(
                conn, "store_status", store_id, actor=actor, reason=status.reason, body=body, at=now
            )
            return _status(row), True

    async def expire(self, *, now: datetime) -> list[str]:
        """Statuses whose ``until`` has passed return to online by themselves (the service is the actor)."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "UPDATE stores SET status = 'online', extra_pick_minutes = 0, status_until = NULL,"
                " status_reason = NULL, status_since = $1 WHERE status_until <= $1 RETURNING store_id",
                now,
            )
            ids = sorted(r["store_id"] for r in rows)
            for store_id in ids:
                await record_action(
                    conn,
                    "store_status",
                    store_id,
                    actor=SYSTEM,
                    reason="the status ended",
                    body={"status": "online"},
                    at=now,
                )
            return ids

    async def statuses(self) -> dict[str, StoreStatus]:
        """Every store's status now (a round applies changes made by other processes)."""
        rows = await self._pool.fetch(f"SELECT {_STATUS_COLUMNS} FROM stores")
        return {r["store_id"]: _status(r) for r in rows}
