"""Duplicated and reordered stock syncs and order requests: each takes effect exactly once."""

from __future__ import annotations

import asyncio
import random

from tests.conftest import OPERATOR, make_token
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


async def test_duplicated_and_reordered_snapshots_keep_the_newest(client, db, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 0})
    versions = list(range(2, 22)) * 2
    random.Random(7).shuffle(versions)
    responses = await asyncio.gather(*(
        client.put("/v1/stores/s1/stock", json={"version": v, "items": [{"sku": "milk", "quantity": v * 10}]},
                   headers=OPERATOR) for v in versions))
    statuses = [r.status for r in responses]
    assert set(statuses) <= {200, 409}
    for r in responses:
        if r.status == 409:
            assert (await r.json())["error"] == "stale_version"
    assert statuses.count(200) <= 20
    row = await db.fetchrow("SELECT s.stock_version, k.on_hand FROM stores s JOIN stock k USING (store_id)")
    assert (row["stock_version"], row["on_hand"]) == (21, 210)


async def test_duplicated_delta_applies_once(client, db, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    body = {"version": 2, "changes": [{"sku": "milk", "delta": 3}]}
    responses = await asyncio.gather(*(client.patch("/v1/stores/s1/stock", json=body, headers=OPERATOR)
                                       for _ in range(5)))
    assert sorted(r.status for r in responses) == [200, 409, 409, 409, 409]
    late = await client.patch("/v1/stores/s1/stock", json={"version": 1, "changes": [{"sku": "milk", "delta": 100}]},
                              headers=OPERATOR)  # an older delta arriving late
    assert late.status == 409
    assert await db.fetchval("SELECT on_hand FROM stock") == 8


async def test_duplicated_order_requests_make_one_order(client, db, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    system = await make_token(client, "order_system")
    body = order("dup-1", road_network, layout["drop"], milk=2)
    responses = await asyncio.gather(*(client.post("/v1/orders", json=body, headers=system) for _ in range(8)))
    assert {r.status for r in responses} == {201}
    bodies = [await r.json() for r in responses]
    assert all(b == bodies[0] for b in bodies)
    assert await db.fetchval("SELECT count(*) FROM orders") == 1
    assert await db.fetchval("SELECT reserved FROM stock") == 2
    assert await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.reserved'") == 1


async def test_reordered_cancel_and_place(client, db, road_network, layout):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    system = await make_token(client, "order_system")
    early = await client.post("/v1/orders/re-1/cancel", headers=system)  # the cancel overtook the order
    assert early.status == 404 and (await early.json())["error"] == "not_found"
    assert await db.fetchval("SELECT count(*) FROM orders") == 0
    body = order("re-1", road_network, layout["drop"], milk=3)
    assert (await client.post("/v1/orders", json=body, headers=system)).status == 201
    cancels = await asyncio.gather(*(client.post("/v1/orders/re-1/cancel", headers=system) for _ in range(4)))
    assert {r.status for r in cancels} == {200}
    assert await db.fetchval("SELECT reserved FROM stock") == 0  # released exactly once
    assert await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.cancelled'") == 1
    replay = await client.post("/v1/orders", json=body, headers=system)  # a late duplicate of the order
    assert replay.status == 201 and await db.fetchval("SELECT status FROM orders") == "cancelled"
    assert await db.fetchval("SELECT reserved FROM stock") == 0
