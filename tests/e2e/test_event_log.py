"""The order's event log through real HTTP and PostgreSQL: one event per change, gapless, with
the actor; and the events feed, which a consumer that keeps its cursor can trust not to skip."""

from __future__ import annotations

import asyncpg
import pytest

from dispatch.orders.events import SYSTEM, Actor
from dispatch.orders.lifecycle import ActorType, Step
from dispatch.postgres.order_events import append_events
from tests.conftest import OPERATOR, T0, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def feed(client, headers, after="", limit=100):
    response = await client.get("/v1/events", params={"after": after, "limit": str(limit)}, headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_delivered_order_tells_its_whole_story_with_actors(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["far"])
    assert (await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1),
                              headers=system)).status == 201
    await tick_until_assigned(client, clock, ["o1"])
    store = await make_token(client, "store", store_id="s1")
    assert (await client.post("/v1/stores/s1/orders/o1/packed", headers=store)).status == 200
    for kind in ("arrived_store", "picked_up", "delivered"):
        response = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": kind}, headers=token)
        assert response.status == 200, await response.text()
        clock.advance(60)
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    story = [(e["sequence"], e["type"], e["actor"]["type"], e["actor"]["id"]) for e in got["events"]]
    assert story == [
        (1, "order.reserved", "order_system", story[0][3]),
        (2, "order.assigned", "system", "dispatch"),
        (3, "order.packed", "store", "s1"),
        (4, "order.arrived_store", "courier", "c1"),
        (5, "order.picked_up", "courier", "c1"),
        (6, "order.delivered", "courier", "c1"),
    ]
    assert got["events"][1]["data"]["courier_id"] == "c1"
    assert got["events"][-1]["data"] == {"outcome": "on_time"}
    summary = await (await client.get("/v1/ops/summary", headers=OPERATOR)).json()
    assert summary["zones"]["nanshan"]["on_time_share_30m"] == 1.0
    # the feed has the same events in the same order
    page = await feed(client, system)
    assert [e["event_id"] for e in page["events"]] == [e["event_id"] for e in got["events"]]
    # a repeated delivery is harmless and writes nothing
    again = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "delivered"}, headers=token)
    assert again.status == 200
    assert await db.fetchval("SELECT count(*) FROM order_events") == 6
    assert (await feed(client, system, after=page["next"]))["events"] == []


async def test_rejected_task_is_unassigned_by_the_courier_with_its_reason(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["near"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o1"])
    assert (await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "rejected"},
                              headers=token)).status == 200
    assert (await client.post("/v1/orders/o1/cancel", headers=system)).status == 200
    events = (await (await client.get("/v1/orders/o1", headers=OPERATOR)).json())["events"]
    assert [(e["type"], e["actor"]["type"], e["reason"]) for e in events] == [
        ("order.reserved", "order_system", None),
        ("order.assigned", "system", None),
        ("order.unassigned", "courier", "courier rejected the task"),
        ("order.cancelled", "order_system", None),
    ]


async def test_feed_pages_with_limit_and_refuses_bad_cursors(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    for i in range(5):
        await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1), headers=system)
    seen, after = [], ""
    for _ in range(3):
        page = await feed(client, system, after=after, limit=2)
        seen += [e["order_id"] for e in page["events"]]
        after = page["next"]
    assert sorted(seen) == [f"o{i}" for i in range(5)] and len(seen) == 5
    before = await db.fetchval("SELECT count(*) FROM order_events")
    for bad in ("x", "1-", "-1-2", "99999999999999999999-1"):
        response = await client.get("/v1/events", params={"after": bad}, headers=system)
        assert response.status == 400 and (await response.json())["error"] == "invalid_cursor"
    for bad in ("0", "1001", "ten"):
        response = await client.get("/v1/events", params={"limit": bad}, headers=system)
        assert response.status == 422 and (await response.json())["error"] == "invalid"
    store = await make_token(client, "store", store_id="s1")
    assert (await client.get("/v1/events", headers=store)).status == 403
    assert await db.fetchval("SELECT count(*) FROM order_events") == before


async def _seed_order(db, order_id: str) -> None:
    await db.execute(
        "INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes, created_at, updated_at)"
        " VALUES ('s1', 's1', 22.5, 113.9, 'z', 5, 20, $1, $1) ON CONFLICT DO NOTHING", T0)
    await db.execute(
        "INSERT INTO orders (order_id, request_digest, status, store_id, zone, drop_node, placed_at, promised_by,"
        " predicted_delivery_at, ready_at, response) VALUES ($1, 'd', 'reserved', 's1', 'z', 1, $2, $2, $2, $2, '{}')",
        order_id, T0)


async def test_feed_never_skips_an_event_that_commits_after_a_later_one(client, db, database_url):
    """Transaction A writes first and commits last: a consumer reading by event id alone would
    take B's event, move its cursor past A's smaller id and never see A's event."""
    await _seed_order(db, "early")
    await _seed_order(db, "late")
    system = await make_token(client, "order_system")
    start = (await feed(client, system))["next"]
    slow = await asyncpg.connect(database_url)
    fast = await asyncpg.connect(database_url)
    try:
        slow_tx = slow.transaction()
        await slow_tx.start()
        await append_events(slow, Step.MARK_LATE, ["early"], at=T0, actor=SYSTEM)
        async with fast.transaction():
            await append_events(fast, Step.MARK_LATE, ["late"], at=T0, actor=Actor(ActorType.SYSTEM, "b"))
        ids = {r["order_id"]: r["event_id"] for r in await db.fetch("SELECT order_id, event_id FROM order_events")}
        assert ids == {"late": ids["late"]}  # A's event is not visible yet …
        # … and the committed B is held back, because A (older) may still commit
        held = await feed(client, system, after=start)
        assert held["events"] == [] and held["next"] == start
        await slow_tx.commit()
    finally:
        await slow.close()
        await fast.close()
    ids = {r["order_id"]: r["event_id"] for r in await db.fetch("SELECT order_id, event_id FROM order_events")}
    assert ids["early"] < ids["late"]  # A took the smaller id and committed last
    page = await feed(client, system, after=start)
    assert [e["order_id"] for e in page["events"]] == ["early", "late"]
    assert (await feed(client, system, after=page["next"]))["events"] == []
