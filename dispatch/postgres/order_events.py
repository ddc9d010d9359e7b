"""PostgreSQL adapter for the order event log: append in the writer's transaction, read the feed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from dispatch.orders.events import Actor, EventCursor, EventPage, OrderEvent
from dispatch.orders.lifecycle import ActorType, Step, check_actor, event_of

_EVENT_COLUMNS = "event_id, order_id, sequence, type, occurred_at, actor_type, actor_id, reason, data"

# One statement: number each order's next event (the order row's lock keeps numbers gapless,
# and the caller's own status write already holds it) and insert it.
_APPEND = (
    "WITH numbered AS ("
    " UPDATE orders o SET event_seq = o.event_seq + 1"
    " FROM unnest($1::text[], $2::jsonb[]) AS e(order_id, data)"
    " WHERE o.order_id = e.order_id RETURNING o.order_id, o.event_seq, e.data)"
    " INSERT INTO order_events (order_id, sequence, type, occurred_at, actor_type, actor_id, reason, data)"
    " SELECT order_id, event_seq, $3, $4, $5, $6, $7, coalesce(data, '{}'::jsonb) FROM numbered"
)


def order_event(row: asyncpg.Record) -> OrderEvent:
    return OrderEvent(
        event_id=row["event_id"],
        order_id=row["order_id"],
        sequence=row["sequence"],
        type=row["type"],
        occurred_at=row["occurred_at"],
        actor=Actor(ActorType(row["actor_type"]), row["actor_id"]),
        reason=row["reason"],
        data=json.loads(row["data"]),
    )


async def append_events(
    conn: asyncpg.Connection,
    step: Step,
    order_ids: Sequence[str],
    *,
    at: datetime,
    actor: Actor,
    reason: str | None = None,
    data: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
) -> None:
    """Append ``step``'s event to each order (one per order id; ids must be distinct).

    Runs inside the caller's transaction, right after the status write it records.
    ``data`` is one object for all or one per order.
    """
    check_actor(step, actor.type)
    if not order_ids:
        return
    if data is None or isinstance(data, dict):
        payloads = [json.dumps(data or {})] * len(order_ids)
    else:
        payloads = [json.dumps(d) for d in data]
    await conn.execute(
        _APPEND,
        list(order_ids),
        payloads,
        event_of(step).value,
        at,
        actor.type.value,
        actor.id,
        reason,
    )


async def events_of(conn: asyncpg.Connection | asyncpg.Pool, order_id: str) -> list[OrderEvent]:
    rows = await conn.fetch(
        f"SELECT {_EVENT_COLUMNS} FROM order_events WHERE order_id = $1 ORDER BY sequence", order_id
    )
    return [order_event(r) for r in rows]


class PostgresEventLog:
    """The events feed: every event in the order it became visible."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def page(self, after: EventCursor, *, limit: int) -> EventPage:
        """Events past ``after``, only from transactions older than every one still running."""
        rows = await self._pool.fetch(
            f"SELECT {_EVENT_COLUMNS}, txid::text::bigint AS txid FROM order_events"
            " WHERE (txid, event_id) > ($1::text::xid8, $2::bigint)"
            " AND txid < pg_snapshot_xmin(pg_current_snapshot())"
            " ORDER BY txid, event_id LIMIT $3",
            str(after.txid),
            after.event_id,
            limit,
        )
        if not rows:
            return EventPage((), after)
        last = rows[-1]
        return EventPage(tuple(order_event(r) for r in rows), EventCursor(last["txid"], last["event_id"]))
