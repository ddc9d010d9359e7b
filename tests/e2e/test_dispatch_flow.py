"""Couriers and the dispatch loop through real HTTP and PostgreSQL: every order delivered."""

from __future__ import annotations

import asyncio
import copy

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)


async def add_courier(client, network, courier_id, node, *, capacity=3):
    response = await client.put(f"/v1/couriers/{courier_id}", json={"name": courier_id, "zone": "nanshan",
                                                                   "capacity": capacity}, headers=OPERATOR)
    assert response.status in (200, 201), await response.text()
    token = await make_token(client, "courier", courier_id=courier_id)
    shift = await client.post(f"/v1/couriers/{courier_id}/shift", json={"state": "on", "position": point(network, node)},
                              headers=token)
    assert shift.status == 200, await shift.text()
    return token


async def tick_until_assigned(client, clock, order_ids, *, rounds=40, alive=()):
    """Tick (30 s apart) until every order has left ``reserved``; ``alive`` couriers keep reporting."""
    loop = client.app[SERVICES].dispatcher
    for _ in range(rounds):
        for courier_id, token, position in alive:
            await client.post(f"/v1/couriers/{courier_id}/positions", json={"positions": [position]}, headers=token)
        await loop.tick()
        got = [await (await client.get(f"/v1/orders/{o}", headers=OPERATOR)).json() for o in order_ids]
        if all(g["status"] != "reserved" for g in got):
            return got
        clock.advance(30)
    raise AssertionError(f"not assigned after {rounds} rounds: {[g['status'] for g in got]}")


class EveryZone:
    async def claim(self, zones):
        return set(zones)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def test_orders_are_assigned_picked_up_and_delivered(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["far"])
    for i in range(2):
        assert (await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1),
                                  headers=system)).status == 201
    got = await tick_until_assigned(client, clock, ["o0", "o1"])
    assert {g["courier_id"] for g in got} == {"c1"}
    tasks = await (await client.get("/v1/couriers/c1/tasks", headers=token)).json()
    kinds = [stop["kind"] for stop in tasks["stops"]]
    assert kinds[0] == "pickup" and kinds.count("dropoff") == 2
    assert tasks["stops"][0]["route"]["type"] == "LineString"
    assert len(tasks["stops"][0]["route"]["coordinates"]) >= 2
    lon, lat = tasks["stops"][0]["route"]["coordinates"][-1]
    assert abs(lat - road_network.lat[layout["near"]]) < 1e-6 and abs(lon - road_network.lon[layout["near"]]) < 1e-6
    other = await make_token(client, "courier", courier_id="c2")
    assert (await client.get("/v1/couriers/c1/tasks", headers=other)).status == 403
    for stop in tasks["stops"]:
        for order_id in stop["order_ids"]:
            kind = "picked_up" if stop["kind"] == "pickup" else "delivered"
            response = await client.post("/v1/couriers/c1/events", json={"order_id": order_id, "type": kind}, headers=token)
            assert response.status == 200, await response.text()
        clock.advance(120)
    rows = await db.fetch("SELECT status, outcome FROM orders ORDER BY order_id")
    assert [(r["status"], r["outcome"]) for r in rows] == [("delivered", "on_time")] * 2
    stock = await db.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = 'milk'")
    assert (stock["on_hand"], stock["reserved"]) == (8, 0)
    assert await db.fetchval("SELECT route_id FROM couriers WHERE courier_id = 'c1'") is None
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="on_time",zone="nanshan"} 2.0' in metrics
    assert 'flashdispatch_delivery_duration_seconds_count{zone="nanshan"} 2.0' in metrics


async def test_rejected_and_off_shift_orders_go_back_to_dispatch(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["near"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o1"])
    rejected = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "rejected"}, headers=token)
    assert rejected.status == 200
    assert await db.fetchval("SELECT status FROM orders") == "reserved"
    assert await db.fetchval("SELECT reserved FROM stock") == 1
    await tick_until_assigned(client, clock, ["o1"])
    off = await client.post("/v1/couriers/c1/shift", json={"state": "off", "position": point(road_network, layout["near"])},
                            headers=token)
    assert (await off.json())["released_orders"] == ["o1"]
    assert await db.fetchval("SELECT status FROM orders") == "reserved"
    assert await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'") == 0


async def test_silent_courier_gives_its_orders_back(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_courier(client, road_network, "c1", layout["near"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o1"])
    clock.advance(client.app[SERVICES].policy.courier_silence_s + 1)
    report = await client.app[SERVICES].dispatcher.tick()
    assert report.released == ["o1"]
    assert await db.fetchval("SELECT status FROM orders") == "reserved"


async def test_concurrent_rounds_never_give_one_courier_two_plans(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 50})
    token = await add_courier(client, road_network, "c1", layout["near"], capacity=1)
    for i in range(4):
        await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1), headers=system)
    loop = client.app[SERVICES].dispatcher
    # a second dispatcher that wrongly believes it owns every zone (split brain): the database's
    # conditional writes must still keep one courier to one plan
    rogue = copy.copy(loop)
    rogue.lease = EveryZone()
    rogue._lock = asyncio.Lock()
    for _ in range(60):
        await asyncio.gather(loop.tick(), rogue.tick())
        clock.advance(30)
        await client.post("/v1/couriers/c1/positions", json={"positions": [point(road_network, layout["near"])]},
                          headers=token)
    assert await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'") == 1
    assert await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'") == 1


async def test_order_never_delivered_is_counted_late_once(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    loop = client.app[SERVICES].dispatcher
    clock.advance(29 * 60)
    assert (await loop.tick()).late == 0
    clock.advance(2 * 60)
    assert (await loop.tick()).late == 1
    assert (await loop.tick()).late == 0
    assert await db.fetchval("SELECT outcome FROM orders") == "late"
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="late",zone="nanshan"} 1.0' in metrics
    assert 'flashdispatch_orders_at_risk{zone="nanshan"} 1.0' in metrics


async def test_courier_bad_input_is_422_and_writes_nothing(client, db, road_network, layout):  # noqa: F811
    token = await add_courier(client, road_network, "c1", layout["near"])
    before = await db.fetchval("SELECT count(*) FROM courier_positions")
    for body in ({"positions": []}, {"positions": [{"lat": 99, "lon": 1}]}, {"positions": "x"},
                 {"positions": [{"lat": 22.5, "lon": 113.9, "at": "noon"}]}):
        response = await client.post("/v1/couriers/c1/positions", json=body, headers=token)
        assert response.status == 422 and (await response.json())["error"] == "invalid"
    for body in ({"order_id": "o1", "type": "teleported"}, {"type": "delivered"}):
        response = await client.post("/v1/couriers/c1/events", json=body, headers=token)
        assert response.status == 422
    assert (await client.post("/v1/couriers/c1/events", json={"order_id": "nope", "type": "delivered"},
                              headers=token)).status == 404
    assert (await client.post("/v1/couriers/c1/shift", json={"state": "sideways", "position": point(road_network, 0)},
                              headers=token)).status == 422
    assert await db.fetchval("SELECT count(*) FROM courier_positions") == before
    ok = await client.post("/v1/couriers/c1/positions", json={"positions": [point(road_network, 3)]}, headers=token)
    assert ok.status == 202


async def test_cancelling_the_only_order_of_a_route_frees_the_courier(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["near"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o1"])
    assert await db.fetchval("SELECT route_id FROM couriers") is not None
    assert (await client.post("/v1/orders/o1/cancel", headers=system)).status == 200
    assert await db.fetchval("SELECT route_id FROM couriers") is None
    assert await db.fetchval("SELECT status FROM routes") == "abandoned"
    assert (await (await client.get("/v1/couriers/c1/tasks", headers=token)).json())["stops"] == []
    await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    got = await tick_until_assigned(client, clock, ["o2"], alive=[("c1", token, point(road_network, layout["near"]))])
    assert got[0]["courier_id"] == "c1"


async def test_idle_courier_is_asked_to_wait_where_orders_come_from(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = await add_courier(client, road_network, "c1", layout["far"])
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    await client.post("/v1/orders/o1/cancel", headers=system)  # demand seen, nothing left to carry
    report = await client.app[SERVICES].dispatcher.tick()
    assert report.repositions == {"c1": layout["near"]}
    tasks = await (await client.get("/v1/couriers/c1/tasks", headers=token)).json()
    assert tasks["route_id"] is None
    [stop] = tasks["stops"]
    assert stop["kind"] == "reposition" and stop["order_ids"] == []
    assert stop["location"] == point(road_network, layout["near"])
    assert stop["route"]["coordinates"][-1] == [stop["location"]["lon"], stop["location"]["lat"]]
    # a route replaces the waiting place
    await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    await tick_until_assigned(client, clock, ["o2"], alive=[("c1", token, point(road_network, layout["far"]))])
    assert await db.fetchval("SELECT reposition_node FROM couriers") is None
    kinds = [s["kind"] for s in (await (await client.get("/v1/couriers/c1/tasks", headers=token)).json())["stops"]]
    assert kinds == ["pickup", "dropoff"]
