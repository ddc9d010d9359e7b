"""PostgreSQL adapter for the store's pick results: what the shelf really gave (DESIGN.md section 15).

One transaction per pick result: the leg's row is locked, then its order's (the order every leg
write keeps). A short line gives back the missing reservation and lowers the store's on-hand to
what is still reserved, so nothing more of that SKU is offered there until the store's next
sync; then the order's ``on_short`` decides: a new leg from the planned store, the line dropped,
or the whole order cancelled. The answer is kept on the leg, so a repeat gets it again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import asyncpg

from dispatch.errors import NotCancellable, NotFound, PickConflict
from dispatch.orders.events import SYSTEM, Actor
from dispatch.orders.legs import LegPlan, OnShort, PickOutcome, ShelfLeg, leg_id
from dispatch.orders.lifecycle import OrderStatus, Step, check_step, sources, target
from dispatch.orders.sla import Outcome, outcome_when_closed
from dispatch.postgres.order_events import append_events
from dispatch.postgres.orders import RESERVATION_LOST, cancel_legs, close_order, place_leg
from dispatch.postgres.route_closing import close_route_if_empty


class PostgresPickResults:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def leg_at_store(self, order_id: str, store_id: str) -> ShelfLeg:
        row = await self._pool.fetchrow(
            "SELECT l.order_id AS leg_id, l.leg_no, l.store_id, l.zone, l.status, l.pick_result,"
            " o.order_id, o.drop_node, o.promised_by,"
            " coalesce(o.response->>'on_short', 'resource') AS on_short,"
            " (SELECT array_agg(x.store_id) FROM orders x"
            "   WHERE coalesce(x.leg_of, x.order_id) = o.order_id) AS stores"
            " FROM orders l JOIN orders o ON o.order_id = coalesce(l.leg_of, l.order_id)"
            " WHERE coalesce(l.leg_of, l.order_id) = $1 AND l.store_id = $2",
            order_id,
            store_id,
        )
        if row is None:
            raise NotFound(f"store {store_id!r} has no order {order_id!r}")
        lines = await self._pool.fetch(
            "SELECT sku, quantity FROM order_lines WHERE order_id = $1", row["leg_id"]
        )
        return ShelfLeg(
            leg_id=row["leg_id"],
            order_id=row["order_id"],
            leg_no=row["leg_no"],
            store_id=row["store_id"],
            zone=row["zone"],
            status=OrderStatus(row["status"]),
            lines={r["sku"]: r["quantity"] for r in lines},
            drop_node=row["drop_node"],
            promised_by=row["promised_by"],
            on_short=OnShort(row["on_short"]),
            order_stores=frozenset(row["stores"]),
            pick_result=json.loads(row["pick_result"]) if row["pick_result"] else None,
        )

    async def record(
        self, leg: ShelfLeg, picked: Mapping[str, int], *, plan: LegPlan | None, now: datetime, actor: Actor
    ) -> PickOutcome:
        """Record the pick result once; a repeat with the same lines gets the first answer."""
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT status, pick_result, packed_at FROM orders WHERE order_id = $1 FOR UPDATE", leg.leg_id
            )
            await conn.execute("SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE", leg.order_id)
            if row["pick_result"] is not None:
                first = json.loads(row["pick_result"])
                if first["request"] != dict(sorted(picked.items())):
                    raise PickConflict(
                        f"order {leg.order_id!r} already has a different pick result from this store"
                    )
                return PickOutcome(first, False)
            check_step(leg.order_id, Step.SHORT_PICK, OrderStatus(row["status"]))
            lines = {
                r["sku"]: r["quantity"]
                for r in await conn.fetch(
                    "SELECT sku, quantity FROM order_lines WHERE order_id = $1", leg.leg_id
                )
            }
            missing = {
                sku: qty - picked.get(sku, qty) for sku, qty in lines.items() if picked.get(sku, qty) < qty
            }
            if row["packed_at"] is None:
                await conn.execute("UPDATE orders SET packed_at = $2 WHERE order_id = $1", leg.leg_id, now)
                await append_events(conn, Step.PACK, [leg.leg_id], at=now, actor=actor)
            answer = {
                "order_id": leg.order_id,
                "leg": leg.leg_no,
                "store_id": leg.store_id,
                "request": dict(sorted(picked.items())),
                "missing": [{"sku": sku, "quantity": q} for sku, q in sorted(missing.items())],
                "action": "none",
                "leg_added": None,
            }
            outcome = None
            if missing:
                action, outcome = await self._short(conn, leg, missing, plan=plan, now=now, actor=actor)
                answer.update(action)
            await conn.execute(
                "UPDATE orders SET pick_result = $2::jsonb WHERE order_id = $1",
                leg.leg_id,
                json.dumps(answer),
            )
            return PickOutcome(answer, True, outcome)

    async def _short(
        self,
        conn: asyncpg.Connection,
        leg: ShelfLeg,
        missing: dict[str, int],
        *,
        plan: LegPlan | None,
        now: datetime,
        actor: Actor,
    ) -> tuple[dict, str | None]:
        """Give the missing units back, correct the shelf count, and do what ``on_short`` says:
        (what was done, the order's outcome if that closed it)."""
        skus, quantities = zip(*sorted(missing.items()), strict=True)
        await conn.execute(
            "UPDATE stock s SET reserved = s.reserved - m.q, on_hand = least(s.on_hand, s.reserved - m.q)"
            " FROM unnest($2::text[], $3::integer[]) AS m(sku, q) WHERE s.store_id = $1 AND s.sku = m.sku",
            leg.store_id,
            list(skus),
            list(quantities),
        )
        for statement in (  # a line with nothing picked goes; a line picked in part shrinks
            "DELETE FROM order_lines l USING unnest($2::text[], $3::integer[]) AS m(sku, q)"
            " WHERE l.order_id = $1 AND l.sku = m.sku AND l.quantity <= m.q",
            "UPDATE order_lines l SET quantity = l.quantity - m.q"
            " FROM unnest($2::text[], $3::integer[]) AS m(sku, q) WHERE l.order_id = $1 AND l.sku = m.sku",
        ):
            await conn.execute(statement, leg.leg_id, list(skus), list(quantities))
        await append_events(
            conn, Step.SHORT_PICK, [leg.leg_id], at=now, actor=actor,
            data={"missing": [{"sku": s, "quantity": q} for s, q in sorted(missing.items())],
                  "on_short": leg.on_short.value},
        )  # fmt: skip
        if leg.on_short is OnShort.CANCEL:
            try:
                async with conn.transaction():
                    outcome, _ = await cancel_legs(
                        conn, leg.order_id, now=now, actor=SYSTEM, reason="short pick (on_short: cancel)"
                    )
                return {"action": "cancelled"}, outcome
            except NotCancellable:
                pass  # a leg is already on its way: the order goes on without the missing units
        action: dict = {"action": "dropped"}
        if plan is not None:
            added = await self._add_leg(conn, leg, plan, now=now)
            if added is not None:
                action = {"action": "resourced", "leg_added": added}
        return action, await self._drop_if_empty(conn, leg, now=now)

    @staticmethod
    async def _add_leg(
        conn: asyncpg.Connection, leg: ShelfLeg, plan: LegPlan, *, now: datetime
    ) -> dict | None:
        """The missing lines as a new leg from the planned store; None when a line is gone there."""
        leg_no = await conn.fetchval(
            "SELECT max(leg_no) + 1 FROM orders WHERE coalesce(leg_of, order_id) = $1", leg.order_id
        )
        try:
            async with conn.transaction():
                await place_leg(
                    conn, leg.order_id, leg_no, plan, now=now, reason=f"short pick at {leg.store_id}"
                )
        except asyncpg.PostgresError as exc:
            if exc.sqlstate != RESERVATION_LOST:
                raise
            return None
        return {
            "leg": leg_no,
            "leg_id": leg_id(leg.order_id, leg_no),
            **plan.as_json(),
            "predicted_delivery_at": plan.predicted.isoformat(),
        }

    @staticmethod
    async def _drop_if_empty(conn: asyncpg.Connection, leg: ShelfLeg, *, now: datetime) -> str | None:
        """A leg left with nothing leaves dispatch; an order left with no leg at all is cancelled
        (its outcome returned)."""
        if await conn.fetchval("SELECT 1 FROM order_lines WHERE order_id = $1 LIMIT 1", leg.leg_id):
            return None
        route_id = await conn.fetchval("SELECT route_id FROM orders WHERE order_id = $1", leg.leg_id)
        await conn.execute(
            "UPDATE orders SET status = $2, courier_id = NULL, route_id = NULL"
            " WHERE order_id = $1 AND status = ANY($3::text[])",
            leg.leg_id,
            target(Step.DROP_LEG),
            sources(Step.DROP_LEG),
        )
        await append_events(
            conn, Step.DROP_LEG, [leg.leg_id], at=now, actor=SYSTEM, reason="nothing left to pick"
        )
        await close_route_if_empty(conn, route_id, now, abandoned=True)
        live = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE coalesce(leg_of, order_id) = $1 AND status <> $2",
            leg.order_id,
            OrderStatus.CANCELLED.value,
        )
        if live:
            return None
        first = await conn.fetchrow(
            "SELECT promised_by, outcome FROM orders WHERE order_id = $1", leg.order_id
        )
        outcome = None
        if first["outcome"] is None:
            outcome = outcome_when_closed(Outcome.CANCELLED, now, first["promised_by"]).value
        await close_order(conn, leg.order_id, now=now, outcome=outcome)
        await append_events(
            conn, Step.CANCEL, [leg.order_id], at=now, actor=SYSTEM, reason="nothing left to deliver"
        )
        return outcome
