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

# One statement: resolve each id to the log it writes to (a further leg writes to its order's log,
# with ``leg`` in the data), number each log's next events (the order row's lock keeps numbers
# gapless) and insert them.
_APPEND = (
    "WITH e AS ("
    " SELECT u.ord, coalesce(o.leg_of, o.order_id) AS log_id,"
    "  CASE WHEN o.leg_of IS NULL THEN coalesce(u.data, '{}'::jsonb)"
    "   ELSE coalesce(u.data, '{}'::jsonb) || jsonb_build_object('leg', o.leg_no) END AS data"
    " FROM unnest($1::text[], $2::jsonb[]) WITH ORDINALITY AS u(order_id, data, ord)"
    " JOIN orders o ON o.order_id = u.order_id),"
    " counts AS (SELECT log_id, count(*)::int AS n FROM e GROUP BY log_id),"
    " numbered AS ("
    " UPDATE orders o SET event_seq = o.event_seq + c.n FROM counts c WHERE o.order_id = c.log_id"
    " RETURNING o.order_id, o.event_seq - c.n AS base)"
    " INSERT INTO order_events (order_id, sequence, type, occurred_at, actor_type, actor_id, reason, data)"
    " SELECT e.log_id, n.base + row_number() OVER (PARTITION BY e.log_id ORDER BY e.ord),"
    "  $3, $4, $5, $6, $7, e.data FROM e JOIN numbered n ON n.order_id = e.log_id"
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
    """Append ``step``'s event to each order or leg (one per id; ids must be distinct).

    Runs inside the caller's transaction, right after the status write it records; a leg's
    event goes to its order's log (so a leg's row is locked before its order's, everywhere).
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
