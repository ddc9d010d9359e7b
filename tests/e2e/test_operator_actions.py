"""Operators' order actions through real HTTP and PostgreSQL: hold, release, reassign, audited,
idempotent, respected by the dispatch round, and consistent under a storm of concurrent calls."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def act(client, order_id, action, **body):
    return await client.post(f"/v1/orders/{order_id}/{action}", json=body, headers=OPERATOR)


async def events(client, order_id):
    got = await (await client.get(f"/v1/orders/{order_id}", headers=OPERATOR)).json()
    return [(e["type"], e["actor"]["type"], e["reason"]) for e in got["events"]]


async def test_hold_takes_an_order_off_its_route_and_release_gives_it_back(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_courier(client, road_network, "c1", layout["far"])
    for i in range(2):
        await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o0", "o1"])
    route = await db.fetchval("SELECT route_id FROM orders WHERE order_id = 'o0'")
    held = await act(client, "o0", "hold", reason="customer asked to wait")
    assert held.status == 200, await held.text()
    assert (await held.json())["status"] == "held"
    # the other order keeps its route and its courier
    assert await db.fetchrow("SELECT status, route_id FROM orders WHERE order_id = 'o1'") == ("assigned", route)
    assert await db.fetchval("SELECT status FROM routes WHERE route_id = $1", route) == "active"
    again = await act(client, "o0", "hold", reason="customer asked to wait")
    assert again.status == 200
    report = await client.app[SERVICES].dispatcher.tick()
    assert all("o0" not in ids for _, ids in report.committed)
    summary = await (await client.get("/v1/ops/summary", headers=OPERATOR)).json()
    assert [(h["order_id"], h["reason"], h["until"]) for h in summary["held"]] == [("o0", "customer asked to wait", None)]
    assert (await act(client, "o0", "release", reason="customer ready")).status == 200
    assert (await act(client, "o0", "release", reason="customer ready")).status == 200  # harmless repeat
    summary = await (await client.get("/v1/ops/summary", headers=OPERATOR)).json()
    assert summary["held"] == []
    assert await db.fetchval("SELECT status FROM orders WHERE order_id = 'o0'") == "reserved"
    assert await events(client, "o0") == [
        ("order.reserved", "order_system", None),
        ("order.assigned", "system", None),
        ("order.held", "operator", "customer asked to wait"),
        ("order.released", "operator", "customer ready"),
    ]
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_operator_actions_total{action="hold"} 1.0' in metrics
    assert 'flashdispatch_operator_actions_total{action="release"} 1.0' in metrics


async def test_a_hold_with_until_ends_by_itself_on_the_service_clock(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    until = (clock.now() + timedelta(minutes=10)).isoformat()
    assert (await act(client, "o1", "hold", until=until, reason="rain")).status == 200
    loop = client.app[SERVICES].dispatcher
    assert (await loop.tick()).holds_ended == []
    clock.advance(600)
    assert (await loop.tick()).holds_ended == ["o1"]
    assert await db.fetchval("SELECT status FROM orders") == "reserved"
    assert (await events(client, "o1"))[-1] == ("order.released", "system", "the hold ended")


async def test_reassign_gives_the_order_to_the_named_courier_in_the_next_round(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_courier(client, road_network, "c1", layout["near"])
    far_token = await add_courier(client, road_network, "c2", layout["far"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    got = await tick_until_assigned(client, clock, ["o1"])
    assert got[0]["courier_id"] == "c1"  # the nearest courier first
    moved = await act(client, "o1", "reassign", courier_id="c2", reason="c1 has a flat tyre")
    assert moved.status == 200, await moved.text()
    body = await moved.json()
    assert (body["status"], body["courier_id"], body["pinned_courier_id"]) == ("reserved", None, "c2")
    assert await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'") == 0  # c1 is free again
    got = await tick_until_assigned(client, clock, ["o1"])
    assert got[0]["courier_id"] == "c2"
    tasks = await (await client.get("/v1/couriers/c2/tasks", headers=far_token)).json()
    assert tasks["stops"][0]["order_ids"] == ["o1"]
    assert (await events(client, "o1"))[2] == ("order.reassigned", "operator", "c1 has a flat tyre")
    await client.post("/v1/couriers/c2/events", json={"order_id": "o1", "type": "picked_up"}, headers=far_token)
    late = await act(client, "o1", "reassign", courier_id=None, reason="too late")
    assert late.status == 409 and (await late.json())["error"] == "not_reassignable"


async def test_reassign_refuses_an_off_shift_courier_and_bad_bodies_write_nothing(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await client.put("/v1/couriers/c9", json={"name": "c9", "zone": "nanshan", "capacity": 2}, headers=OPERATOR)
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    before = await db.fetchval("SELECT count(*) FROM order_events")
    refused = await act(client, "o1", "reassign", courier_id="c9", reason="try")
    assert refused.status == 409 and (await refused.json())["error"] == "courier_unavailable"
    assert (await act(client, "o1", "reassign", courier_id="nobody", reason="try")).status == 404
    for bad in ({}, {"reason": ""}, {"reason": "x" * 501}, {"reason": "r", "until": "2099-01-01T00:00:00Z"},
                {"reason": "r", "until": (clock.now() - timedelta(seconds=1)).isoformat()},
                {"reason": "r", "until": "tomorrow"}):
        response = await act(client, "o1", "hold", **bad)
        assert response.status == 422 and (await response.json())["error"] == "invalid", bad
    pool = await act(client, "o1", "reassign", reason="r")  # no courier: to the pool, where it already is
    assert pool.status == 200 and (await pool.json())["pinned_courier_id"] is None
    store = await make_token(client, "store", store_id="s1")
    assert (await client.post("/v1/orders/o1/hold", json={"reason": "r"}, headers=store)).status == 403
    assert await db.fetchval("SELECT count(*) FROM order_events") == before
    assert await db.fetchval("SELECT status FROM orders") == "reserved"


async def test_a_storm_of_actions_and_rounds_leaves_one_consistent_order(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    tokens = {c: await add_courier(client, road_network, c, layout["near"]) for c in ("c1", "c2", "c3")}

    async def report_positions():
        here = {**point(road_network, layout["near"]), "at": clock.now().isoformat()}
        for c, token in tokens.items():
            await client.post(f"/v1/couriers/{c}/positions", json={"positions": [here]}, headers=token)

    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    clock.advance(300)  # packed by now: rounds would commit it at once
    rng = random.Random(11)
    loop = client.app[SERVICES].dispatcher

    async def one(i):
        kind = rng.choice(["hold", "release", "reassign", "reassign", "cancel"])
        if kind == "cancel" and i < 45:
            kind = "hold"
        if kind == "reassign":
            return await act(client, "o1", "reassign", courier_id=rng.choice(["c1", "c2", None]), reason=f"r{i}")
        if kind == "cancel":
            return await client.post("/v1/orders/o1/cancel", headers=system)
        return await act(client, "o1", kind, reason=f"r{i}")

    statuses = []
    for wave in range(5):  # ten actions racing two rounds, five times
        await report_positions()
        results = await asyncio.gather(loop.tick(), *(one(10 * wave + i) for i in range(10)), loop.tick())
        statuses += [r.status for r in results[1:-1]]
        clock.advance(5)
        if wave < 4:  # between waves, make sure a round gets the order, so the next wave races a route
            await act(client, "o1", "release", reason="between waves")
            await loop.tick()
            assert await db.fetchval("SELECT status FROM orders") == "assigned"
    assert set(statuses) <= {200, 409}, statuses
    row = await db.fetchrow("SELECT status, courier_id, route_id FROM orders")
    assigned = await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.assigned'")
    unassigning = await db.fetchval(
        "SELECT count(*) FROM order_events WHERE type IN ('order.held', 'order.reassigned', 'order.cancelled')"
        " AND data->>'left_courier_id' IS NOT NULL OR (type = 'order.reassigned' AND data->>'from_courier_id' IS NOT NULL)")
    assert assigned >= 4 and assigned <= unassigning + 1  # never assigned twice without leaving in between
    active = await db.fetch("SELECT courier_id, count(*) AS n FROM routes WHERE status = 'active' GROUP BY 1")
    assert all(r["n"] == 1 for r in active)
    if row["status"] == "assigned":
        assert [r["courier_id"] for r in active] == [row["courier_id"]]
    else:
        assert row["courier_id"] is None and row["route_id"] is None and active == []
    reserved = await db.fetchval("SELECT reserved FROM stock")
    assert reserved == (0 if row["status"] == "cancelled" else 1)
    # (the db fixture checks afterwards that the order's events are numbered 1..n without a gap)
