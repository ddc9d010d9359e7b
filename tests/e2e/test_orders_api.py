"""Order intake through real HTTP and PostgreSQL: store choice, reservation, idempotency."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from tests.conftest import OPERATOR, make_token


def point(network, node):
    return {"lat": float(network.lat[node]), "lon": float(network.lon[node])}


def nodes_by_time(network, origin: int, low_s: float, high_s: float) -> list[int]:
    """Nodes reached from ``origin`` in [low_s, high_s] seconds of riding."""
    from scipy.sparse.csgraph import dijkstra

    times = dijkstra(network.csr, indices=origin, limit=high_s)
    return [int(n) for n in np.flatnonzero((times >= low_s) & (times <= high_s))]


@pytest.fixture
def layout(road_network):
    """A store site, a drop-off 3-6 min away, and a second site 8-12 min from the drop-off."""
    origin = int(np.argmin(np.abs(road_network.lat - np.median(road_network.lat))
                           + np.abs(road_network.lon - np.median(road_network.lon))))
    drop = nodes_by_time(road_network, origin, 180, 360)[0]
    far = next(n for n in nodes_by_time(road_network, origin, 480, 720)
           if road_network.travel_time_s(n, drop) > 420)
    return {"near": origin, "drop": drop, "far": far}


async def add_store(client, network, store_id, node, items, *, version=1, **extra):
    body = {"name": store_id, "location": point(network, node), "zone": "nanshan", **extra}
    assert (await client.put(f"/v1/stores/{store_id}", json=body, headers=OPERATOR)).status in (200, 201)
    response = await client.put(f"/v1/stores/{store_id}/stock", json={"version": version, "items": [
        {"sku": sku, "quantity": qty} for sku, qty in items.items()]}, headers=OPERATOR)
    assert response.status == 200, await response.text()


def order(order_id, network, node, **items):
    return {"order_id": order_id, "items": [{"sku": k, "quantity": v} for k, v in items.items()],
            "drop_off": point(network, node)}


async def counts(db):
    return (await db.fetchval("SELECT count(*) FROM orders"), await db.fetchval("SELECT count(*) FROM order_lines"),
            await db.fetchval("SELECT count(*) FROM order_events"),
            await db.fetchval("SELECT coalesce(sum(reserved), 0) FROM stock"))


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def test_order_reserves_stock_and_promises_half_an_hour(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5, "eggs": 2})
    response = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2, eggs=1), headers=system)
    assert response.status == 201, await response.text()
    body = await response.json()
    assert set(body) == {"order_id", "store_id", "status", "promised_by", "predicted_delivery_at", "tracking_url"}
    assert body["store_id"] == "s1" and body["status"] == "reserved"
    assert body["promised_by"] == "2026-11-23T03:30:00+00:00"
    assert body["predicted_delivery_at"] > "2026-11-23T03:00:00+00:00"
    rows = {r["sku"]: (r["on_hand"], r["reserved"]) for r in await db.fetch("SELECT sku, on_hand, reserved FROM stock")}
    assert rows == {"milk": (5, 2), "eggs": (2, 1)}
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["status"] == "reserved" and got["courier_id"] is None
    [event] = got["events"]
    assert (event["type"], event["sequence"], event["order_id"]) == ("order.reserved", 1, "o1")
    assert event["actor"]["type"] == "order_system" and event["actor"]["id"] is not None
    assert event["occurred_at"] == "2026-11-23T03:00:00+00:00"
    assert event["data"]["store_id"] == "s1"
    assert got["items"] == [{"sku": "eggs", "quantity": 1}, {"sku": "milk", "quantity": 2}]
    stock = await (await client.get("/v1/stores/s1/stock?sku=milk", headers=OPERATOR)).json()
    assert stock["items"][0]["available"] == 3


async def test_same_id_same_body_replays_and_different_body_is_409(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    body = order("o1", road_network, layout["drop"], milk=1)
    first = await client.post("/v1/orders", json=body, headers=system)
    reordered = dict(reversed(list(body.items())))
    again = await client.post("/v1/orders", json=reordered, headers=system)
    assert first.status == again.status == 201
    assert await first.json() == await again.json()
    before = await counts(db)
    other = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2), headers=system)
    assert other.status == 409
    assert (await other.json())["error"] == "order_id_reused"
    assert await counts(db) == before == (1, 1, 1, 1)


async def test_thirty_concurrent_duplicates_make_one_order(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 100})
    body = order("dup", road_network, layout["drop"], milk=3)
    responses = await asyncio.gather(*(client.post("/v1/orders", json=body, headers=system) for _ in range(30)))
    answers = [await r.json() for r in responses]
    assert {r.status for r in responses} == {201}
    assert all(a == answers[0] for a in answers)
    assert await counts(db) == (1, 1, 1, 3)


async def test_last_fifty_units_go_to_exactly_fifty_of_three_hundred(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"hot": 50})
    responses = await asyncio.gather(*(
        client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], hot=1), headers=system)
        for i in range(300)))
    statuses = [r.status for r in responses]
    assert statuses.count(201) == 50 and statuses.count(409) == 250
    for r in responses:
        if r.status == 409:
            body = await r.json()
            assert body["error"] == "out_of_stock"
            assert body["lines"] == [{"sku": "hot", "requested": 1, "available": 0}]
    row = await db.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = 'hot'")
    assert (row["on_hand"], row["reserved"]) == (50, 50)
    assert await db.fetchval("SELECT count(*) FROM orders") == 50


async def test_order_goes_to_farther_store_that_has_the_stock(client, db, road_network, layout, system):
    await add_store(client, road_network, "near", layout["near"], {"milk": 1})
    await add_store(client, road_network, "far", layout["far"], {"milk": 10, "bread": 4})
    response = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1, bread=1), headers=system)
    assert (await response.json())["store_id"] == "far"
    response = await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    assert (await response.json())["store_id"] == "near"  # both have it: the earlier delivery wins


async def test_out_of_stock_names_short_lines_writes_nothing_and_a_retry_is_judged_afresh(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 1, "eggs": 6})
    body = order("o1", road_network, layout["drop"], milk=2, eggs=1)
    response = await client.post("/v1/orders", json=body, headers=system)
    assert response.status == 409
    payload = await response.json()
    assert payload["error"] == "out_of_stock" and payload["detail"]
    assert payload["lines"] == [{"sku": "milk", "requested": 2, "available": 1}]
    assert await counts(db) == (0, 0, 0, 0)
    assert (await client.get("/v1/orders/o1", headers=system)).status == 404
    await client.patch("/v1/stores/s1/stock", json={"version": 2, "changes": [{"sku": "milk", "delta": 5}]}, headers=OPERATOR)
    assert (await client.post("/v1/orders", json=body, headers=system)).status == 201


async def test_out_of_area_when_far_from_roads_or_beyond_every_radius(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5}, radius_minutes=2)
    far_away = {"order_id": "o1", "items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 31.2, "lon": 121.5}}
    response = await client.post("/v1/orders", json=far_away, headers=system)
    assert response.status == 422 and (await response.json())["error"] == "out_of_area"
    beyond = await client.post("/v1/orders", json=order("o2", road_network, layout["far"], milk=1), headers=system)
    assert beyond.status == 422 and (await beyond.json())["error"] == "out_of_area"
    assert await counts(db) == (0, 0, 0, 0)


async def test_closed_store_is_not_a_candidate(client, db, road_network, layout, system):
    # 03:00 UTC is 11:00 in Shanghai
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5},
                    opening_hours=[{"days": "daily", "open": "18:00", "close": "23:00"}])
    response = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    assert response.status == 422 and (await response.json())["error"] == "out_of_area"


BAD_ORDERS = [
    ({"items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 22.5, "lon": 113.9}}, "order_id"),
    ({"order_id": "x", "items": [], "drop_off": {"lat": 22.5, "lon": 113.9}}, "items"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": 0}], "drop_off": {"lat": 22.5, "lon": 113.9}}, "items[0].quantity"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": -2}], "drop_off": {"lat": 22.5, "lon": 113.9}}, "items[0].quantity"),
    ({"order_id": "x", "items": [{"sku": "", "quantity": 1}], "drop_off": {"lat": 22.5, "lon": 113.9}}, "items[0].sku"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 95, "lon": 113.9}}, "drop_off.lat"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 22.5}}, "drop_off.lon"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": 1}], "drop_off": "here"}, "drop_off"),
    ({"order_id": 7, "items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 22.5, "lon": 113.9}}, "order_id"),
    ({"order_id": "x", "items": [{"sku": "milk", "quantity": 1}], "drop_off": {"lat": 22.5, "lon": 113.9},
      "placed_at": "yesterday"}, "placed_at"),
]


async def test_bad_orders_get_422_naming_the_field_and_write_nothing(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    for body, field in BAD_ORDERS:
        response = await client.post("/v1/orders", json=body, headers=system)
        assert response.status == 422, (body, await response.text())
        payload = await response.json()
        assert payload["error"] == "invalid" and field in payload["fields"], payload
    for raw in (b"nope", b"[]", b"\xc3\x28"):
        response = await client.post("/v1/orders", data=raw, headers={**system, "Content-Type": "application/json"})
        assert response.status == 400 and (await response.json())["error"] == "malformed_json"
    assert await counts(db) == (0, 0, 0, 0)


async def test_only_order_system_or_operator_may_place_orders(client, db, road_network, layout):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    body = order("o1", road_network, layout["drop"], milk=1)
    for token in (await make_token(client, "store", store_id="s1"), await make_token(client, "courier", courier_id="c1")):
        response = await client.post("/v1/orders", json=body, headers=token)
        assert response.status == 403
    assert (await client.post("/v1/orders", json=body)).status == 401
    assert await counts(db) == (0, 0, 0, 0)


async def test_cancel_releases_the_reservation_exactly_once(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=2), headers=system)
    for _ in range(3):
        response = await client.post("/v1/orders/o1/cancel", headers=system)
        assert response.status == 200
        assert (await response.json())["status"] == "cancelled"
    assert await db.fetchval("SELECT reserved FROM stock WHERE sku = 'milk'") == 0
    assert await db.fetchval("SELECT outcome FROM orders") == "cancelled"
    assert await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.cancelled'") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="cancelled",zone="nanshan"} 1.0' in metrics
    assert (await client.post("/v1/orders/nope/cancel", headers=system)).status == 404


async def test_store_work_queue_and_packed(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    await add_store(client, road_network, "s2", layout["far"], {"tea": 5})
    for i in range(3):
        await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1), headers=system)
    s1 = await make_token(client, "store", store_id="s1")
    queue = await (await client.get("/v1/stores/s1/orders?status=reserved", headers=s1)).json()
    assert [o["order_id"] for o in queue["orders"]] == ["o0", "o1", "o2"]
    assert (await client.get("/v1/stores/s2/orders", headers=s1)).status == 403
    packed = await client.post("/v1/stores/s1/orders/o1/packed", headers=s1)
    assert packed.status == 200 and (await packed.json())["packed_at"] is not None
    assert (await client.post("/v1/stores/s1/orders/o1/packed", headers=s1)).status == 200
    assert await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.packed'") == 1
    assert (await client.post("/v1/stores/s1/orders/missing/packed", headers=s1)).status == 404


async def test_snapshot_below_reserved_keeps_reservations_and_reports_the_shortfall(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=3), headers=system)
    response = await client.put("/v1/stores/s1/stock", json={"version": 2, "items": [{"sku": "milk", "quantity": 1}]}, headers=OPERATOR)
    assert response.status == 200
    assert (await response.json())["shortfalls"] == [{"sku": "milk", "on_hand": 1, "reserved": 3}]
    assert await db.fetchval("SELECT reserved FROM stock WHERE sku = 'milk'") == 3
    assert await db.fetchval("SELECT count(*) FROM order_events WHERE type = 'order.stock_shortfall'") == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_stock_shortfalls_total{zone="nanshan"} 1.0' in metrics
    stock = await (await client.get("/v1/stores/s1/stock?sku=milk", headers=OPERATOR)).json()
    assert stock["items"][0]["available"] == 0


async def test_deltas_and_reservations_on_one_sku_at_once_stay_consistent(client, db, road_network, layout, system):
    await add_store(client, road_network, "s1", layout["near"], {"milk": 20})
    orders = [client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1), headers=system)
              for i in range(40)]
    deltas = [client.patch("/v1/stores/s1/stock", json={"version": v, "changes": [{"sku": "milk", "delta": 1}]},
                           headers=OPERATOR) for v in range(2, 12)]
    results = await asyncio.gather(*orders, *deltas)
    placed = sum(1 for r in results[:40] if r.status == 201)
    applied = sum(1 for r in results[40:] if r.status == 200)
    row = await db.fetchrow("SELECT on_hand, reserved FROM stock WHERE sku = 'milk'")
    assert row["on_hand"] == 20 + applied
    assert row["reserved"] == placed == await db.fetchval("SELECT count(*) FROM orders")
    assert row["reserved"] <= row["on_hand"]
