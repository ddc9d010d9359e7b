"""Legs and shelf truth through real HTTP and PostgreSQL (DESIGN.md section 15): orders split across
two stores, pick results, short picks re-sourced, dropped or cancelled, and the order judged on its
last leg."""

from __future__ import annotations

import asyncio

import pytest

from dispatch.keys import SERVICES
from tests.conftest import make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def stock_of(db):
    rows = await db.fetch("SELECT store_id, sku, on_hand, reserved FROM stock ORDER BY store_id, sku")
    return {(r["store_id"], r["sku"]): (r["on_hand"], r["reserved"]) for r in rows}


async def pick(client, store_id, order_id, token, **picked):
    body = {"lines": [{"sku": sku, "picked": n} for sku, n in picked.items()]}
    return await client.post(f"/v1/stores/{store_id}/orders/{order_id}/pick-result", json=body, headers=token)


async def test_a_storm_of_split_orders_places_exactly_what_both_stores_can_fill(
    client, db, road_network, layout, system  # noqa: F811
):
    """300 orders of (tea, rice) where one store has only tea and the other only rice, 50 of each."""
    await add_store(client, road_network, "a", layout["near"], {"tea": 50})
    await add_store(client, road_network, "b", layout["far"], {"rice": 50})
    bodies = [{**order(f"o{i:03}", road_network, layout["drop"], tea=1, rice=1), "allow_split": True}
              for i in range(300)]
    responses = await asyncio.gather(*(client.post("/v1/orders", json=b, headers=system) for b in bodies))
    statuses = [r.status for r in responses]
    assert statuses.count(201) == 50 and statuses.count(409) == 250
    placed = [await r.json() for r in responses if r.status == 201]
    assert all([leg["store_id"] for leg in p["legs"]] == ["a", "b"] for p in placed)
    assert await stock_of(db) == {("a", "tea"): (50, 50), ("b", "rice"): (50, 50)}
    # every order has both legs, each holding its line: no reservation without its twin
    legs = await db.fetch(
        "SELECT coalesce(leg_of, order_id) AS o, count(*) AS n, array_agg(store_id ORDER BY leg_no) AS stores"
        " FROM orders GROUP BY 1"
    )
    assert len(legs) == 50 and {(r["n"], tuple(r["stores"])) for r in legs} == {(2, ("a", "b"))}
    assert await db.fetchval("SELECT count(*) FROM order_lines") == 100
    refused = [await r.json() for r in responses if r.status == 409]
    assert {r["error"] for r in refused} == {"out_of_stock"}
    got = await (await client.get(f"/v1/orders/{placed[0]['order_id']}", headers=system)).json()
    assert [(leg["leg"], leg["store_id"], leg["status"]) for leg in got["legs"]] == [
        (1, "a", "reserved"), (2, "b", "reserved")]
    assert got["items"] == [{"sku": "rice", "quantity": 1}, {"sku": "tea", "quantity": 1}]
    assert [e["type"] for e in got["events"]] == ["order.reserved", "order.leg_added"]
    assert got["events"][1]["data"]["leg"] == 2


async def test_without_allow_split_the_same_order_is_refused(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "a", layout["near"], {"tea": 5})
    await add_store(client, road_network, "b", layout["far"], {"rice": 5})
    response = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], tea=1, rice=1),
                                 headers=system)
    assert response.status == 409 and (await response.json())["error"] == "out_of_stock"
    assert await db.fetchval("SELECT count(*) FROM orders") == 0


async def test_a_short_pick_repeated_ten_times_adds_one_leg(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5, "eggs": 4})
    await add_store(client, road_network, "s2", layout["far"], {"milk": 5})
    placed = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2, eggs=1),
                               headers=system)
    assert (await placed.json())["store_id"] == "s1"
    store = await make_token(client, "store", store_id="s1")
    answers = await asyncio.gather(*(pick(client, "s1", "o1", store, milk=1) for _ in range(10)))
    assert {a.status for a in answers} == {200}
    bodies = [await a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["action"] == "resourced" and bodies[0]["missing"] == [{"sku": "milk", "quantity": 1}]
    assert bodies[0]["leg_added"]["store_id"] == "s2" and bodies[0]["leg_added"]["leg"] == 2
    # s1: the missing unit given back and the shelf count corrected (nothing more offered there);
    # s2: exactly one unit reserved for the new leg
    assert await stock_of(db) == {("s1", "eggs"): (4, 1), ("s1", "milk"): (1, 1), ("s2", "milk"): (5, 1)}
    assert await db.fetchval("SELECT count(*) FROM orders") == 2
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert [(leg["store_id"], leg["items"]) for leg in got["legs"]] == [
        ("s1", [{"sku": "eggs", "quantity": 1}, {"sku": "milk", "quantity": 1}]),
        ("s2", [{"sku": "milk", "quantity": 1}])]
    types = [e["type"] for e in got["events"]]
    assert types == ["order.reserved", "order.packed", "order.short_picked", "order.leg_added"]
    assert got["events"][2]["actor"]["type"] == "store"
    # a different pick result for the same leg is a conflict and changes nothing
    other = await pick(client, "s1", "o1", store, milk=0)
    assert other.status == 409 and (await other.json())["error"] == "pick_result_conflict"
    assert await stock_of(db) == {("s1", "eggs"): (4, 1), ("s1", "milk"): (1, 1), ("s2", "milk"): (5, 1)}
    # the next order for milk no longer goes to s1's phantom stock
    again = await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    assert (await again.json())["store_id"] == "s2"
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_pick_shortfalls_total{action="resourced",zone="nanshan"} 1.0' in metrics


async def test_a_pick_result_names_only_the_legs_lines(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2), headers=system)
    store = await make_token(client, "store", store_id="s1")
    for picked, error in (({"bread": 1}, "invalid_pick"), ({"milk": 3}, "invalid_pick")):
        response = await pick(client, "s1", "o1", store, **picked)
        assert response.status == 409 and (await response.json())["error"] == error
    assert (await pick(client, "s1", "o9", store, milk=1)).status == 404
    assert await stock_of(db) == {("s1", "milk"): (5, 2)}
    full = await pick(client, "s1", "o1", store, milk=2)
    assert full.status == 200 and (await full.json())["action"] == "none"
    assert await stock_of(db) == {("s1", "milk"): (5, 2)}
    # a leg already on its way: too late to say the shelf was short, and nothing moves
    await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    await db.execute("UPDATE orders SET status = 'picked_up' WHERE order_id = 'o2'")
    late = await pick(client, "s1", "o2", store, milk=0)
    assert late.status == 409 and (await late.json())["error"] == "invalid_transition"
    assert await stock_of(db) == {("s1", "milk"): (5, 3)}
    assert await db.fetchval("SELECT pick_result FROM orders WHERE order_id = 'o2'") is None


async def test_a_short_pick_with_no_store_in_time_drops_the_line(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5, "eggs": 4})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2, eggs=1), headers=system)
    store = await make_token(client, "store", store_id="s1")
    answer = await (await pick(client, "s1", "o1", store, milk=0)).json()
    assert answer["action"] == "dropped" and answer["leg_added"] is None
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "reserved" and got["items"] == [{"sku": "eggs", "quantity": 1}]
    assert await stock_of(db) == {("s1", "eggs"): (4, 1), ("s1", "milk"): (0, 0)}
    short = got["events"][-1]
    assert short["type"] == "order.short_picked" and short["data"]["missing"] == [{"sku": "milk", "quantity": 2}]


async def test_on_short_cancel_releases_every_reservation(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "a", layout["near"], {"tea": 5})
    await add_store(client, road_network, "b", layout["far"], {"rice": 5})
    body = {**order("o1", road_network, layout["drop"], tea=2, rice=1), "allow_split": True, "on_short": "cancel"}
    placed = await client.post("/v1/orders", json=body, headers=system)
    assert placed.status == 201 and (await placed.json())["on_short"] == "cancel"
    store = await make_token(client, "store", store_id="a")
    answer = await (await pick(client, "a", "o1", store, tea=1)).json()
    assert answer["action"] == "cancelled"
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "cancelled" and got["outcome"] == "cancelled"
    assert {leg["status"] for leg in got["legs"]} == {"cancelled"}
    assert await db.fetchval("SELECT sum(reserved) FROM stock") == 0
    assert await stock_of(db) == {("a", "tea"): (1, 0), ("b", "rice"): (5, 0)}


async def test_cancel_releases_every_leg_and_refuses_after_a_pickup(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "a", layout["near"], {"tea": 5})
    await add_store(client, road_network, "b", layout["far"], {"rice": 5})
    for oid in ("o1", "o2"):
        body = {**order(oid, road_network, layout["drop"], tea=1, rice=1), "allow_split": True}
        assert (await client.post("/v1/orders", json=body, headers=system)).status == 201
    cancelled = await client.post("/v1/orders/o1/cancel", headers=system)
    assert cancelled.status == 200 and (await cancelled.json())["status"] == "cancelled"
    assert await stock_of(db) == {("a", "tea"): (5, 1), ("b", "rice"): (5, 1)}
    await db.execute("UPDATE orders SET status = 'picked_up' WHERE order_id = 'o2/2'")
    refused = await client.post("/v1/orders/o2/cancel", headers=system)
    assert refused.status == 409 and (await refused.json())["error"] == "not_cancellable"
    assert await stock_of(db) == {("a", "tea"): (5, 1), ("b", "rice"): (5, 1)}


async def deliver_all(client, clock, tokens, order_ids):
    """Tick until assigned, then let each courier pick up and deliver what its tasks say, 2 min a stop;
    returns the legs the couriers' drop-off stops named."""
    await tick_until_assigned(client, clock, order_ids)
    legs = []
    for courier_id, token in tokens.items():
        tasks = await (await client.get(f"/v1/couriers/{courier_id}/tasks", headers=token)).json()
        legs += [(s["leg"]["order_id"], s["leg"]["leg"]) for s in tasks["stops"] if s["kind"] == "dropoff"]
        for stop in tasks["stops"]:
            for unit in stop["order_ids"]:
                kind = "picked_up" if stop["kind"] == "pickup" else "delivered"
                response = await client.post(f"/v1/couriers/{courier_id}/events",
                                             json={"order_id": unit, "type": kind}, headers=token)
                assert response.status == 200, await response.text()
            clock.advance(120)
    return sorted(legs)


async def test_a_split_order_is_delivered_and_judged_on_its_last_leg(
    client, db, road_network, layout, system, clock  # noqa: F811
):
    await add_store(client, road_network, "a", layout["near"], {"tea": 5})
    await add_store(client, road_network, "b", layout["far"], {"rice": 5})
    tokens = {c: await add_courier(client, road_network, c, node)
              for c, node in (("c1", layout["near"]), ("c2", layout["far"]))}
    body = {**order("o1", road_network, layout["drop"], tea=1, rice=1), "allow_split": True}
    placed = await client.post("/v1/orders", json=body, headers=system)
    tracking = (await placed.json())["tracking_url"] + ".json"
    assert await deliver_all(client, clock, tokens, ["o1"]) == [("o1", 1), ("o1", 2)]
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "delivered" and got["outcome"] == "on_time"
    # the customer's page sees the order, not a leg: delivered when the last leg was
    seen = await (await client.get(tracking)).json()
    assert (seen["status"], seen["delivered_at"]) == ("delivered", got["delivered_at"])
    assert [leg["status"] for leg in got["legs"]] == ["delivered", "delivered"]
    assert got["delivered_at"] == max(leg["delivered_at"] for leg in got["legs"])
    types = [e["type"] for e in got["events"]]
    assert types.count("order.delivered") == 1 and types.count("order.leg_delivered") == 1
    assert types[-1] == "order.delivered" and got["events"][-1]["data"]["outcome"] == "on_time"
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="on_time",zone="nanshan"} 1.0' in metrics
    assert 'flashdispatch_delivery_duration_seconds_count{zone="nanshan"} 1.0' in metrics


async def test_the_late_sweeper_counts_a_two_leg_order_once(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "a", layout["near"], {"tea": 5})
    await add_store(client, road_network, "b", layout["far"], {"rice": 5})
    body = {**order("o1", road_network, layout["drop"], tea=1, rice=1), "allow_split": True}
    assert (await client.post("/v1/orders", json=body, headers=system)).status == 201
    # the first leg reached the door; the second is still out when the promise passes
    await db.execute("UPDATE orders SET status = 'delivered', delivered_at = placed_at WHERE order_id = 'o1'")
    loop = client.app[SERVICES].dispatcher
    clock.advance(31 * 60)
    assert (await loop.tick()).late == 1
    assert (await loop.tick()).late == 0
    assert await db.fetch("SELECT order_id, outcome FROM orders WHERE outcome IS NOT NULL") == [("o1", "late")]
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "reserved" and [e["type"] for e in got["events"]].count("order.late") == 1


async def test_a_re_sourced_order_is_judged_on_its_last_leg(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5, "eggs": 4})
    await add_store(client, road_network, "s2", layout["far"], {"milk": 5})
    tokens = {c: await add_courier(client, road_network, c, node)
              for c, node in (("c1", layout["near"]), ("c2", layout["far"]))}
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2, eggs=1), headers=system)
    store = await make_token(client, "store", store_id="s1")
    assert (await (await pick(client, "s1", "o1", store, milk=1)).json())["action"] == "resourced"
    assert await deliver_all(client, clock, tokens, ["o1"]) == [("o1", 1), ("o1", 2)]
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "delivered" and got["outcome"] == "on_time"
    last = max(leg["delivered_at"] for leg in got["legs"])
    assert got["delivered_at"] == last and got["events"][-1]["type"] == "order.delivered"
    assert got["events"][-1]["occurred_at"] == last
    assert await db.fetch("SELECT order_id, outcome FROM orders WHERE outcome IS NOT NULL") == [("o1", "on_time")]
    # both legs sold: s1 gave 1 milk and 1 egg, s2 the other milk
    assert await stock_of(db) == {("s1", "eggs"): (3, 0), ("s1", "milk"): (0, 0), ("s2", "milk"): (4, 0)}
