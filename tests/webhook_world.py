"""Helpers of the webhook tests: events written straight into the log, and a relay built by hand."""

from __future__ import annotations

import random
from datetime import datetime

import asyncpg

from dispatch.orders import lifecycle
from dispatch.orders.events import Actor
from dispatch.orders.lifecycle import Step
from dispatch.postgres.order_events import append_events
from dispatch.postgres.webhooks import PostgresWebhookStore
from dispatch.webhooks.http_sender import AiohttpSender
from dispatch.webhooks.model import RelayPolicy
from dispatch.webhooks.relay import Relay

STEPS = (Step.UPDATE_ETA, Step.PACK, Step.ARRIVE_STORE, Step.MARK_LATE, Step.UPDATE_ETA)


async def seed_orders(conn: asyncpg.Connection, order_ids: list[str], *, at: datetime) -> None:
    """Bare orders (no lines) at store s1, with no events yet."""
    await conn.execute(
        "INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes, created_at, updated_at)"
        " VALUES ('s1', 's1', 22.5, 113.9, 'nanshan', 5, 20, $1, $1) ON CONFLICT DO NOTHING", at)
    await conn.executemany(
        "INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_node, placed_at, promised_by,"
        " predicted_delivery_at, ready_at, response) VALUES ($1, 'd', 'reserved', 's1', 'nanshan', 1, $2, $2, $2, $2,"
        " '{}')", [(o, at) for o in order_ids])


async def append(conn: asyncpg.Connection, order_ids: list[str], *, at: datetime, rounds: int = 1) -> int:
    """``rounds`` events for each order, in one transaction; returns how many."""
    async with conn.transaction():
        for k in range(rounds):
            step = STEPS[k % len(STEPS)]
            actor = Actor(min(lifecycle.STEPS[step].actors), "t")  # an actor the table allows for it
            await append_events(conn, step, order_ids, at=at, actor=actor, data={"k": k})
    return rounds * len(order_ids)


def relay_for(pool, clock, metrics, *, allow_private: bool = True, seed: int = 1, wall=None,
              **policy) -> tuple[Relay, AiohttpSender]:
    sender = AiohttpSender(allow_private=allow_private)
    kwargs = {"wall": wall} if wall is not None else {}
    relay = Relay(store=PostgresWebhookStore(pool), sender=sender, clock=clock, observer=metrics,
                  policy=RelayPolicy(**policy), rng=random.Random(seed), **kwargs)
    return relay, sender


def in_order(receipts) -> dict[str, list[int]]:
    """Per order, the sequences in the order the receiver accepted them."""
    seen: dict[str, list[int]] = {}
    for r in receipts:
        seen.setdefault(r.order_id, []).append(r.sequence)
    return seen
