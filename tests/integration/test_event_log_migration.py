"""Migration 0005 keeps every event written before the event log, numbered and attributed."""

from __future__ import annotations

import json

import asyncpg
import pytest

from dispatch.postgres.migrate import bundled_migrations
from dispatch.postgres.scratch import scratch_database
from tests.conftest import T0, _server_url


@pytest.fixture
async def scratch():
    async with scratch_database(_server_url(), "fd_migration") as url:
        conn = await asyncpg.connect(url)
        try:
            yield conn
        finally:
            await conn.close()


async def test_old_events_become_typed_numbered_events_with_actors(scratch):
    migrations = bundled_migrations()
    for m in migrations:
        if m.version < 5:
            await scratch.execute(m.sql)
    await scratch.execute(
        "INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes, created_at, updated_at)"
        " VALUES ('s1', 's1', 22.5, 113.9, 'z', 5, 20, $1, $1)", T0)
    await scratch.execute(
        "INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_node, placed_at, promised_by,"
        " predicted_delivery_at, ready_at, response) VALUES ('o1', 'd', 'cancelled', 's1', 'z', 1, $1, $1, $1, $1, '{}')",
        T0)
    old = [
        ("placed", None), ("reserved", {"store_id": "s1"}),
        ("assigned", {"courier_id": "c1", "route_id": 7}),
        ("reserved", {"reason": "courier rejected the task", "courier_id": "c1"}),
        ("packed", None), ("cancelled", None),
    ]
    for status, detail in old:
        await scratch.execute("INSERT INTO order_events (order_id, status, at, detail) VALUES ('o1', $1, $2, $3::jsonb)",
                              status, T0, json.dumps(detail) if detail else None)
    for m in migrations:
        if m.version >= 5:
            await scratch.execute(m.sql)
    rows = await scratch.fetch("SELECT sequence, type, actor_type, actor_id, reason, data, occurred_at"
                               " FROM order_events ORDER BY sequence")
    assert [(r["sequence"], r["type"], r["actor_type"], r["actor_id"], r["reason"]) for r in rows] == [
        (1, "order.placed", "order_system", None, None),
        (2, "order.reserved", "order_system", None, None),
        (3, "order.assigned", "system", "dispatch", None),
        (4, "order.unassigned", "courier", "c1", "courier rejected the task"),
        (5, "order.packed", "store", "s1", None),
        (6, "order.cancelled", "order_system", None, None),
    ]
    assert json.loads(rows[2]["data"]) == {"courier_id": "c1", "route_id": 7}
    assert json.loads(rows[3]["data"]) == {"courier_id": "c1"}
    assert all(r["occurred_at"] == T0 for r in rows)
    assert await scratch.fetchval("SELECT event_seq FROM orders WHERE order_id = 'o1'") == 6
