"""PostgreSQL adapter for orders: placement, reads, and every lifecycle transition."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg

from dispatch.errors import InvalidTransition, NotFound
from dispatch.orders.events import SYSTEM, Actor, OrderEvent
from dispatch.orders.legs import Leg, LegPlan
from dispatch.orders.lifecycle import ActorType, OrderStatus, Step, check_step, event_of, sources, target
from dispatch.orders.model import Order, Placement, PlaceResult
from dispatch.orders.sla import Outcome, outcome_when_closed
from dispatch.postgres.order_events import append_events, events_of
from dispatch.postgres.route_closing import close_route_if_empty

RESERVATION_LOST = "FD409"
_ORDER_COLUMNS = (
    "order_id, status, store_id, zone, courier_id, route_id, drop_lat, drop_lon, drop_node,"
    " placed_at, promised_by, predicted_delivery_at, ready_at, packed_at, picked_up_at,"
    " delivered_at, outcome, failure_reason, held_until, pinned_courier_id, promise_extension_minutes,"
    " leg_of, leg_no"
)


def _order(
    row: asyncpg.Record, lines: Sequence[tuple[str, int]] = (), events: Sequence[OrderEvent] = ()
) -> Order:
    return Order(
        order_id=row["order_id"],
        status=OrderStatus(row["status"]),
        store_id=row["store_id"],
        zone=row["zone"],
        courier_id=row["courier_id"],
        route_id=row["route_id"],
        drop_lat=row["drop_lat"],
        drop_lon=row["drop_lon"],
        drop_node=row["drop_node"],
        placed_at=row["placed_at"],
        promised_by=row["promised_by"],
        predicted_delivery_at=row["predicted_delivery_at"],
        ready_at=row["ready_at"],
        packed_at=row["packed_at"],
        picked_up_at=row["picked_up_at"],
        delivered_at=row["delivered_at"],
        outcome=row["outcome"],
        failure_reason=row["failure_reason"],
        held_until=row["held_until"],
        pinned_courier_id=row["pinned_courier_id"],
        promise_extension_minutes=row["promise_extension_minutes"],
        leg_of=row["leg_of"],
        leg_no=row["leg_no"],
        lines=tuple(lines),
        events=tuple(events),
    )


# Every leg of the given orders, with its lines, in one query.
_LEGS = (
    "SELECT coalesce(o.leg_of, o.order_id) AS of, o.leg_no, o.store_id, o.status, o.courier_id,"
    " o.predicted_delivery_at, o.picked_up_at, o.delivered_at,"
    " (SELECT coalesce(array_agg(l.sku ORDER BY l.sku), '{}') FROM order_lines l"
    "   WHERE l.order_id = o.order_id) AS skus,"
    " (SELECT coalesce(array_agg(l.quantity ORDER BY l.sku), '{}') FROM order_lines l"
    "   WHERE l.order_id = o.order_id) AS quantities"
    " FROM orders o WHERE o.order_id = ANY($1::text[]) OR o.leg_of = ANY($1::text[])"
    " ORDER BY of, o.leg_no"
)


async def legs_of(
    conn: asyncpg.Connection | asyncpg.Pool, order_ids: Sequence[str]
) -> dict[str, tuple[Leg, ...]]:
    """Each order's legs, first leg first."""
    found: dict[str, list[Leg]] = {}
    for r in await conn.fetch(_LEGS, list(order_ids)):
        found.setdefault(r["of"], []).append(
            Leg(
                leg_no=r["leg_no"],
                store_id=r["store_id"],
                status=OrderStatus(r["status"]),
                courier_id=r["courier_id"],
                lines=tuple(zip(r["skus"], r["quantities"], strict=True)),
                predicted_delivery_at=r["predicted_delivery_at"],
                picked_up_at=r["picked_up_at"],
                delivered_at=r["delivered_at"],
            )
        )
    return {order_id: tuple(legs) for order_id, legs in found.items()}


async def read_order(conn: asyncpg.Connection, order_id: str) -> Order:
    """The whole order: its first leg's row, every leg with its lines, and the whole event log
    (inside the caller's transaction)."""
    row = await conn.fetchrow(
        f"SELECT {_ORDER_COLUMNS} FROM orders WHERE order_id = $1 AND leg_of IS NULL", order_id
    )
    if row is None:
        raise NotFound(f"no order {order_id!r}")
    legs = (await legs_of(conn, [order_id]))[order_id]
    return _order(row, legs[0].lines, await events_of(conn, order_id)).with_legs(legs)


# Orders with their lines and events in one query (the relay renders a claimed batch at once).
_ORDERS_WHOLE = (
    "SELECT " + ", ".join("o." + c.strip() for c in _ORDER_COLUMNS.split(",")) + ","
    " (SELECT coalesce(array_agg(l.sku ORDER BY l.sku), '{}') FROM order_lines l"
    "   WHERE l.order_id = o.order_id) AS line_skus,"
    " (SELECT coalesce(array_agg(l.quantity ORDER BY l.sku), '{}') FROM order_lines l"
    "   WHERE l.order_id = o.order_id) AS line_quantities,"
    " (SELECT coalesce(json_agg(json_build_object('event_id', e.event_id, 'sequence', e.sequence,"
    "   'type', e.type, 'occurred_at', e.occurred_at, 'actor_type', e.actor_type, 'actor_id', e.actor_id,"
    "   'reason', e.reason, 'data', e.data) ORDER BY e.sequence), '[]')"
    "   FROM order_events e WHERE e.order_id = o.order_id) AS events"
    " FROM orders o WHERE o.order_id = ANY($1::text[])"
)


async def orders_by_id(conn: asyncpg.Connection | asyncpg.Pool, order_ids: Sequence[str]) -> dict[str, Order]:
    """Several orders as ``GET`` shows them, lines and events included, in one query."""
    found = {}
    ids = list(dict.fromkeys(order_ids))
    legs = await legs_of(conn, ids)
    for r in await conn.fetch(_ORDERS_WHOLE, ids):
        events = [
            OrderEvent(
                event_id=e["event_id"],
                order_id=r["order_id"],
                sequence=e["sequence"],
                type=e["type"],
                occurred_at=datetime.fromisoformat(e["occurred_at"]).astimezone(UTC),
                actor=Actor(ActorType(e["actor_type"]), e["actor_id"]),
                reason=e["reason"],
                data=e["data"],
            )
            for e in json.loads(r["events"])
        ]
        lines = list(zip(r["line_skus"], r["line_quantities"], strict=True))
        found[r["order_id"]] = _order(r, lines, events).with_legs(legs.get(r["order_id"], ()))
    return found


async def cancel_legs(
    conn: asyncpg.Connection, order_id: str, *, now: datetime, actor: Actor, reason: str | None
) -> tuple[str | None, bool]:
    """Cancel an order and every leg still running, in the caller's transaction: (outcome set,
    changed). Legs are locked last leg first, the order's own row last, as every leg write does."""
    rows = await conn.fetch(
        "SELECT order_id, status, promised_by, outcome, route_id FROM orders"
        " WHERE (order_id = $1 AND leg_of IS NULL) OR leg_of = $1 ORDER BY leg_no DESC FOR UPDATE",
        order_id,
    )
    if not rows:
        raise NotFound(f"no order {order_id!r}")
    live = [r for r in rows if r["status"] != OrderStatus.CANCELLED.value]
    if not live:
        return None, False
    for r in live:
        check_step(order_id, Step.CANCEL, OrderStatus(r["status"]))
    ids = [r["order_id"] for r in live]
    await release_reservations(conn, ids)
    first = rows[-1]
    outcome = None
    if first["outcome"] is None:
        outcome = outcome_when_closed(Outcome.CANCELLED, now, first["promised_by"]).value
    await conn.execute(
        "UPDATE orders SET status = $3, closed_at = $2, courier_id = NULL, route_id = NULL"
        " WHERE order_id = ANY($1::text[]) AND status = ANY($4::text[])",
        ids,
        now,
        target(Step.CANCEL),
        sources(Step.CANCEL),
    )
    await close_order(conn, order_id, now=now, outcome=outcome)
    await append_events(conn, Step.CANCEL, [order_id], at=now, actor=actor, reason=reason)
    # a cancelled leg leaves its courier's route; an emptied route frees the courier
    for r in live:
        await close_route_if_empty(conn, r["route_id"], now, abandoned=True)
    return outcome, True


async def close_order(conn: asyncpg.Connection, order_id: str, *, now: datetime, outcome: str | None) -> None:
    """Close the order (its first leg's row carries it) with its outcome, unless the sweeper
    already judged it."""
    await conn.execute(
        "UPDATE orders SET closed_at = $2, outcome = coalesce(outcome, $3),"
        " outcome_at = CASE WHEN outcome IS NULL THEN $2 ELSE outcome_at END WHERE order_id = $1",
        order_id,
        now,
        outcome,
    )


async def release_reservations(conn: asyncpg.Connection, leg_ids: Sequence[str]) -> None:
    """Give back what the legs reserved, each at its own store."""
    await conn.execute(
        "UPDATE stock s SET reserved = s.reserved - l.quantity"
        " FROM order_lines l JOIN orders o USING (order_id)"
        " WHERE l.order_id = ANY($1::text[]) AND s.store_id = o.store_id AND s.sku = l.sku",
        list(leg_ids),
    )


_PLACE_ONE = (
    "SELECT * FROM fd_place_order($1, $2, $3, $4, $5::text[], $6::integer[], $7, $8,"
    " $9, $10, $11, $12, $13, $14::jsonb, $15, $16, $17, $18, $19, $20)"
)


def _place_args(p: Placement) -> tuple:
    return (
        p.order_id,
        p.digest,
        p.store_id,
        p.zone,
        [sku for sku, _ in p.lines],
        [qty for _, qty in p.lines],
        p.drop_lat,
        p.drop_lon,
        p.drop_node,
        p.placed_at,
        p.promised_by,
        p.predicted_delivery_at,
        p.ready_at,
        json.dumps(p.response),
        target(Step.RESERVE),
        event_of(Step.RESERVE).value,
        p.actor.type.value,
        p.actor.id,
        p.occurred_at,
        p.promise_extension_minutes,
    )


async def place_leg(
    conn: asyncpg.Connection, order_id: str, leg_no: int, leg: LegPlan, *, now: datetime, reason: str
) -> str:
    """Reserve a further leg of a placed order in the caller's transaction (FD409 when a line is
    gone: the caller rolls back) and record it on the order's log."""
    leg_id = await conn.fetchval(
        "SELECT fd_place_leg($1, $2, $3, $4::text[], $5::integer[], $6, $7, $8)",
        order_id,
        leg_no,
        leg.store_id,
        [sku for sku, _ in leg.lines],
        [qty for _, qty in leg.lines],
        leg.ready_at,
        leg.predicted,
        target(Step.RESERVE),
    )
    await append_events(
        conn, Step.ADD_LEG, [leg_id], at=now, actor=SYSTEM, reason=reason,
        data={**leg.as_json(), "predicted_delivery_at": leg.predicted.isoformat()},
    )  # fmt: skip
    return str(leg_id)


class PostgresOrderRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def place(self, p: Placement) -> PlaceResult:
        """Claim the id, reserve every line and record the order, atomically (one round trip)."""
        try:
            row = await self._pool.fetchrow(_PLACE_ONE, *_place_args(p))
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == RESERVATION_LOST:
                return PlaceResult("race_lost")
            raise
        return PlaceResult(row["result"], row["request_digest"], json.loads(row["response"]))

    async def place_split(self, p: Placement, second: LegPlan) -> PlaceResult:
        """The first leg as ``place`` places an order, and the second in the same transaction."""
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(_PLACE_ONE, *_place_args(p))
                if row["result"] != "placed":
                    return PlaceResult(row["result"], row["request_digest"], json.loads(row["response"]))
                await place_leg(conn, p.order_id, 2, second, now=p.occurred_at, reason="split at intake")
        except asyncpg.PostgresError as exc:
            if exc.sqlstate == RESERVATION_LOST:
                return PlaceResult("race_lost")
            raise
        return PlaceResult("placed", p.digest, p.response)

    async def find_answer(self, order_id: str) -> PlaceResult | None:
        row = await self._pool.fetchrow(
            "SELECT request_digest, response FROM orders WHERE order_id = $1", order_id
        )
        if row is None:
            return None
        return PlaceResult("exists", row["request_digest"], json.loads(row["response"]))

    async def availability(self, store_id: str, skus: Sequence[str]) -> dict[str, int]:
        rows = await self._pool.fetch(
            "SELECT sku, greatest(on_hand - reserved, 0) AS available FROM stock"
            " WHERE store_id = $1 AND sku = ANY($2::text[])",
            store_id,
            list(skus),
        )
        found = {r["sku"]: r["available"] for r in rows}
        return {sku: found.get(sku, 0) for sku in skus}

    async def availability_many(
        self, store_ids: Sequence[str], skus: Sequence[str]
    ) -> dict[str, dict[str, int]]:
        """Available units of ``skus`` at each of ``store_ids`` (0 where a store lacks one)."""
        rows = await self._pool.fetch(
            "SELECT store_id, sku, greatest(on_hand - reserved, 0) AS available FROM stock"
            " WHERE store_id = ANY($1::text[]) AND sku = ANY($2::text[])",
            list(store_ids),
            list(skus),
        )
        out = {store_id: dict.fromkeys(skus, 0) for store_id in store_ids}
        for r in rows:
            out[r["store_id"]][r["sku"]] = r["available"]
        return out

    async def get(self, order_id: str) -> Order:
        async with self._pool.acquire() as conn:
            return await self._get(conn, order_id)

    @staticmethod
    async def _get(conn: asyncpg.Connection, order_id: str) -> Order:
        return await read_order(conn, order_id)

    async def cancel(
        self, order_id: str, *, now: datetime, actor: Actor, reason: str | None = None
    ) -> tuple[Order, str | None, bool]:
        """Cancel once: release every leg's reservation exactly once (refused once any leg is
        picked up). Returns (order, outcome set, changed)."""
        async with self._pool.acquire() as conn, conn.transaction():
            outcome, changed = await cancel_legs(conn, order_id, now=now, actor=actor, reason=reason)
            return await self._get(conn, order_id), outcome, changed

    async def store_queue(self, store_id: str, statuses: Sequence[str], *, limit: int) -> list[Order]:
        rows = await self._pool.fetch(
            f"SELECT {_ORDER_COLUMNS} FROM orders WHERE store_id = $1 AND status = ANY($2::text[])"
            " ORDER BY placed_at, order_id LIMIT $3",
            store_id,
            list(statuses),
            limit,
        )
        if not rows:
            return []
        lines = await self._pool.fetch(
            "SELECT order_id, sku, quantity FROM order_lines WHERE order_id = ANY($1::text[])"
            " ORDER BY order_id, sku",
            [r["order_id"] for r in rows],
        )
        by_order: dict[str, list[tuple[str, int]]] = {}
        for line in lines:
            by_order.setdefault(line["order_id"], []).append((line["sku"], line["quantity"]))
        return [_order(r, by_order.get(r["order_id"], ())) for r in rows]

    async def mark_packed(self, store_id: str, order_id: str, *, now: datetime, actor: Actor) -> Order:
        """The store says the order is ready; repeating it is harmless."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT order_id, status, packed_at FROM orders"
                " WHERE coalesce(leg_of, order_id) = $1 AND store_id = $2 FOR UPDATE",
                order_id,
                store_id,
            )
            if row is None:
                raise NotFound(f"store {store_id!r} has no order {order_id!r}")
            status = OrderStatus(row["status"])
            if row["packed_at"] is None:
                if status.value not in sources(Step.PACK):
                    raise InvalidTransition(f"order {order_id!r} is {status.value}; there is nothing to pack")
                leg = row["order_id"]  # the store's own leg of the order
                await conn.execute("UPDATE orders SET packed_at = $2 WHERE order_id = $1", leg, now)
                await append_events(conn, Step.PACK, [leg], at=now, actor=actor)
            return await self._get(conn, order_id)

    async def record_shortfall(self, store_id: str, skus: Sequence[str], *, now: datetime) -> int:
        """An event on every open order of the store holding a SKU that fell short."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT o.order_id FROM orders o WHERE o.store_id = $1 AND o.status = ANY($3::text[])"
                " AND EXISTS (SELECT 1 FROM order_lines l WHERE l.order_id = o.order_id"
                "             AND l.sku = ANY($2::text[]))"
                " ORDER BY o.order_id FOR UPDATE OF o",
                store_id,
                list(skus),
                sources(Step.RECORD_SHORTFALL),
            )
            ids = [r["order_id"] for r in rows]
            await append_events(
                conn,
                Step.RECORD_SHORTFALL,
                ids,
                at=now,
                actor=Actor(ActorType.STORE, store_id),
                data={"skus": sorted(skus)},
            )
        return len(ids)
