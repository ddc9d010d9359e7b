"""PostgreSQL adapter for webhooks: endpoints, the fan-out of the event log, and the delivery outbox."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from dispatch.orders.events import Actor, OrderEvent
from dispatch.orders.lifecycle import ActorType
from dispatch.postgres.orders import orders_by_id
from dispatch.webhooks.model import (
    Attempt,
    Claimed,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Result,
    WebhookState,
)
from dispatch.webhooks.ports import OutboxStats

ANALYZE_AFTER_ROWS = 500  # deliveries inserted by this process before it checks the statistics
_ENDPOINT_COLUMNS = "webhook_id, url, event_types, secret, state, created_at, disabled_at, disabled_reason"
_DELIVERY_COLUMNS = (
    "delivery_id, webhook_id, event_id, order_id, sequence, event_type, occurred_at, status, attempts,"
    " claims, next_attempt_at, created_at, last_attempt_at, last_status, last_error, delivered_at"
)

# The outbox's own writes (fan-out, claims, attempt results) do not wait for the WAL flush: a
# crash of PostgreSQL can only forget the last moments of them, and each one forgotten means a
# delivery made again (at least once, never lost): a fan-out page is read again (ON CONFLICT
# keeps one row), a claim is re-made, a result is re-earned by posting again.
_RELAXED = "SET LOCAL synchronous_commit TO off"
# For single statements outside a transaction; the pool's reset (RESET ALL) undoes it on release.
_RELAXED_SESSION = "SET synchronous_commit TO off"

# One page of the event log in visibility order (as GET /v1/events reads it: only transactions
# older than every running one), copied into a delivery per matching active endpoint.
_FAN_OUT = """
WITH page AS (
    SELECT event_id, order_id, sequence, type, occurred_at, txid FROM order_events
     WHERE (txid, event_id) > ($1::text::xid8, $2::bigint)
       AND txid < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY txid, event_id LIMIT $3
), inserted AS (
    INSERT INTO webhook_deliveries
        (webhook_id, event_id, order_id, sequence, event_type, occurred_at, next_attempt_at, created_at)
    SELECT w.webhook_id, p.event_id, p.order_id, p.sequence, p.type, p.occurred_at, $4, $4
      FROM page p JOIN webhook_endpoints w
        ON w.state = 'active' AND (w.event_types IS NULL OR p.type = ANY (w.event_types))
     ORDER BY p.txid, p.event_id, w.webhook_id
    ON CONFLICT (webhook_id, event_id) DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM page) AS events,
       (SELECT count(*) FROM inserted) AS deliveries,
       last.txid::text AS txid, last.event_id
  FROM (SELECT txid, event_id FROM page ORDER BY txid DESC, event_id DESC LIMIT 1) last
"""

# The visible head of the log: with no active endpoint the cursor jumps there.
_HEAD = """
SELECT EXISTS (SELECT 1 FROM webhook_endpoints WHERE state = 'active') AS active,
       h.txid::text AS txid, h.event_id
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (
      SELECT txid, event_id FROM order_events
       WHERE txid < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY txid DESC, event_id DESC LIMIT 1) h ON true
"""

# Due deliveries of one endpoint whose order has no earlier event still pending for it, nor an
# earlier event not yet fanned out (a transaction with an older id can write a later sequence);
# held for a lease by moving next_attempt_at; SKIP LOCKED lets relays claim side by side.
_CLAIM = f"""
WITH cursor_at AS (SELECT txid, event_id FROM webhook_fanout),
due AS (
    SELECT d.delivery_id FROM webhook_deliveries d
     WHERE d.webhook_id = $1 AND d.status = 'pending' AND d.next_attempt_at <= $2
       AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries p
            WHERE p.webhook_id = d.webhook_id AND p.order_id = d.order_id
              AND p.status = 'pending' AND p.sequence < d.sequence)
       AND NOT EXISTS (
           SELECT 1 FROM order_events e, cursor_at c
            WHERE e.order_id = d.order_id AND e.sequence < d.sequence
              AND (e.txid, e.event_id) > (c.txid, c.event_id))
     ORDER BY d.next_attempt_at, d.delivery_id
     LIMIT $3
     FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d
   SET next_attempt_at = $4, attempts = d.attempts + 1, claims = d.claims + 1, last_attempt_at = $2
  FROM due, order_events e
 WHERE d.delivery_id = due.delivery_id AND e.event_id = d.event_id
RETURNING {", ".join("d." + c.strip() for c in _DELIVERY_COLUMNS.split(","))},
          e.actor_type, e.actor_id, e.reason, e.data
"""


def _endpoint(row: asyncpg.Record) -> Endpoint:
    types = row["event_types"]
    return Endpoint(
        webhook_id=row["webhook_id"],
        url=row["url"],
        event_types=tuple(types) if types is not None else None,
        secret=row["secret"],
        state=WebhookState(row["state"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
        disabled_reason=row["disabled_reason"],
    )


def _delivery(row: asyncpg.Record) -> Delivery:
    return Delivery(
        delivery_id=row["delivery_id"],
        webhook_id=row["webhook_id"],
        event_id=row["event_id"],
        order_id=row["order_id"],
        sequence=row["sequence"],
        event_type=row["event_type"],
        occurred_at=row["occurred_at"],
        status=DeliveryStatus(row["status"]),
        attempts=row["attempts"],
        claims=row["claims"],
        next_attempt_at=row["next_attempt_at"],
        created_at=row["created_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status=row["last_status"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
    )


class PostgresWebhookStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._inserted_since_analyze = 0

    # endpoints -------------------------------------------------------------------------------
    async def create_endpoint(self, endpoint: Endpoint) -> None:
        await self._pool.execute(
            "INSERT INTO webhook_endpoints (webhook_id, url, event_types, secret, state, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            endpoint.webhook_id,
            endpoint.url,
            list(endpoint.event_types) if endpoint.event_types is not None else None,
            endpoint.secret,
            endpoint.state.value,
            endpoint.created_at,
        )

    async def endpoints(self) -> list[Endpoint]:
        rows = await self._pool.fetch(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints ORDER BY created_at, webhook_id"
        )
        return [_endpoint(r) for r in rows]

    async def endpoint(self, webhook_id: str) -> Endpoint | None:
        row = await self._pool.fetchrow(
            f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE webhook_id = $1", webhook_id
        )
        return _endpoint(row) if row is not None else None

    async def delete_endpoint(self, webhook_id: str) -> bool:
        deleted = await self._pool.execute("DELETE FROM webhook_endpoints WHERE webhook_id = $1", webhook_id)
        return deleted != "DELETE 0"

    async def disable_endpoint(self, webhook_id: str, *, now: datetime, reason: str) -> None:
        await self._pool.execute(
            "UPDATE webhook_endpoints SET state = 'disabled', disabled_at = $2, disabled_reason = $3"
            " WHERE webhook_id = $1 AND state = 'active'",
            webhook_id,
            now,
            reason,
        )

    # the outbox ------------------------------------------------------------------------------
    async def fan_out(self, *, now: datetime, page: int) -> int:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(_RELAXED)
            cursor = await conn.fetchrow(
                "SELECT txid::text AS txid, event_id FROM webhook_fanout FOR UPDATE SKIP LOCKED"
            )
            if cursor is None:  # another relay is fanning out right now (or the row is new)
                await conn.execute(
                    "INSERT INTO webhook_fanout (txid, event_id) SELECT '0', 0"
                    " WHERE NOT EXISTS (SELECT 1 FROM webhook_fanout) ON CONFLICT DO NOTHING"
                )
                return 0
            # one snapshot: an endpoint created after it hears only of events committed after it
            head = await conn.fetchrow(_HEAD)
            if not head["active"]:
                if head["txid"] is not None and (int(head["txid"]), head["event_id"]) > (
                    int(cursor["txid"]),
                    cursor["event_id"],
                ):
                    await conn.execute(
                        "UPDATE webhook_fanout SET txid = $1::text::xid8, event_id = $2",
                        head["txid"],
                        head["event_id"],
                    )
                return 0
            row = await conn.fetchrow(_FAN_OUT, cursor["txid"], cursor["event_id"], page, now)
            if row is None:
                return 0
            await conn.execute(
                "UPDATE webhook_fanout SET txid = $1::text::xid8, event_id = $2", row["txid"], row["event_id"]
            )
        await self._analyze_if_grown(int(row["deliveries"]))
        return int(row["events"])

    async def _analyze_if_grown(self, inserted: int) -> None:
        """Planner statistics for a young outbox. Until the table is first analyzed, PostgreSQL
        guesses it holds a row or two and may check each order's earlier deliveries through the
        wrong index — a claim then scans the backlog once per candidate (seen: 0.6 s instead of
        2 ms at 3,000 pending). Autovacuum gets there within a minute; the relay does not wait:
        it analyzes whenever the deliveries it inserted outgrow the last statistics."""
        self._inserted_since_analyze += inserted
        if self._inserted_since_analyze < ANALYZE_AFTER_ROWS:
            return
        async with self._pool.acquire() as conn:
            estimate = await conn.fetchval(
                "SELECT reltuples FROM pg_class WHERE oid = 'webhook_deliveries'::regclass"
            )
            if estimate is None or estimate < 0 or self._inserted_since_analyze > estimate:
                await conn.execute("ANALYZE webhook_deliveries")
                self._inserted_since_analyze = 0

    async def claim(
        self, webhook_id: str, *, now: datetime, limit: int, lease_until: datetime
    ) -> list[Claimed]:
        async with self._pool.acquire() as conn:
            await conn.execute(_RELAXED_SESSION)
            rows = await conn.fetch(_CLAIM, webhook_id, now, limit, lease_until)  # one statement
            if not rows:
                return []
            rows = sorted(rows, key=lambda r: r["delivery_id"])
            orders = await orders_by_id(conn, [r["order_id"] for r in rows])
        claimed = []
        for row in rows:
            delivery = _delivery(row)
            event = OrderEvent(
                event_id=delivery.event_id,
                order_id=delivery.order_id,
                sequence=delivery.sequence,
                type=delivery.event_type,
                occurred_at=delivery.occurred_at,
                actor=Actor(ActorType(row["actor_type"]), row["actor_id"]),
                reason=row["reason"],
                data=json.loads(row["data"]),
            )
            claimed.append(Claimed(delivery, event, orders.get(delivery.order_id)))
        return claimed

    async def record(self, attempts: Sequence[Attempt]) -> None:
        delivered = [a for a in attempts if a.result is Result.DELIVERED]
        others = [a for a in attempts if a.result is not Result.DELIVERED]
        async with self._pool.acquire() as conn:
            await conn.execute(_RELAXED_SESSION)  # each statement below commits on its own
            if delivered:  # a 2xx is a fact, whoever holds the claim now
                await conn.execute(
                    "UPDATE webhook_deliveries d SET status = 'delivered', delivered_at = a.at,"
                    " last_status = a.status, last_error = NULL"
                    " FROM unnest($1::bigint[], $2::timestamptz[], $3::integer[]) AS a(id, at, status)"
                    " WHERE d.delivery_id = a.id AND d.status = 'pending'",
                    [a.delivery.delivery_id for a in delivered],
                    [a.at for a in delivered],
                    [a.answer.status for a in delivered],
                )
            if others:  # only if no other relay has claimed the delivery since
                await conn.execute(
                    "UPDATE webhook_deliveries d SET status = a.status,"
                    " next_attempt_at = coalesce(a.next_at, d.next_attempt_at),"
                    " last_status = a.http_status, last_error = a.error"
                    " FROM unnest($1::bigint[], $2::integer[], $3::text[], $4::timestamptz[], $5::integer[],"
                    " $6::text[]) AS a(id, claims, status, next_at, http_status, error)"
                    " WHERE d.delivery_id = a.id AND d.claims = a.claims AND d.status = 'pending'",
                    [a.delivery.delivery_id for a in others],
                    [a.delivery.claims for a in others],
                    ["pending" if a.result is Result.RETRY else "failed" for a in others],
                    [a.next_attempt_at for a in others],
                    [a.answer.status for a in others],
                    [a.answer.error for a in others],
                )

    async def deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]:
        rows = await self._pool.fetch(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries"
            " WHERE webhook_id = $1 AND ($2::text IS NULL OR status = $2)"
            " ORDER BY delivery_id DESC LIMIT $3",
            webhook_id,
            status.value if status is not None else None,
            limit,
        )
        return [_delivery(r) for r in rows]

    async def delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        row = await self._pool.fetchrow(
            f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE webhook_id = $1 AND delivery_id = $2",
            webhook_id,
            delivery_id,
        )
        return _delivery(row) if row is not None else None

    async def retry(self, webhook_id: str, delivery_id: int, *, now: datetime) -> Delivery | None:
        row = await self._pool.fetchrow(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = $3"
            " WHERE webhook_id = $1 AND delivery_id = $2 AND status = 'failed'"
            f" RETURNING {_DELIVERY_COLUMNS}",
            webhook_id,
            delivery_id,
            now,
        )
        return _delivery(row) if row is not None else None

    async def stats(self) -> OutboxStats:
        row = await self._pool.fetchrow(
            "SELECT"
            " (SELECT min(d.occurred_at) FROM webhook_deliveries d"
            "   JOIN webhook_endpoints w USING (webhook_id)"
            "   WHERE d.status = 'pending' AND w.state = 'active') AS oldest_pending,"
            " (SELECT min(e.occurred_at) FROM order_events e, webhook_fanout c"
            "   WHERE (e.txid, e.event_id) > (c.txid, c.event_id)"
            "   AND EXISTS (SELECT 1 FROM webhook_endpoints WHERE state = 'active')) AS oldest_unread,"
            " (SELECT count(*) FROM webhook_endpoints WHERE state = 'active') AS active,"
            " (SELECT count(*) FROM webhook_endpoints WHERE state = 'disabled') AS disabled"
        )
        candidates = [t for t in (row["oldest_pending"], row["oldest_unread"]) if t is not None]
        return OutboxStats(min(candidates) if candidates else None, row["active"], row["disabled"])
