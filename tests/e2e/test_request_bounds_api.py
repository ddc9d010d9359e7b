"""The live handlers at the declared bounds: a value at each bound passes validation, one past it is
422 ``invalid`` naming the field, and nothing is written. The bounds are read from the served
/openapi.json and must be the declaration's own (so the document, the declaration and the live
handler are shown to agree for these representative fields)."""

from __future__ import annotations

import pytest

from dispatch.http import bodies as b
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_orders_api import add_store, layout, point  # noqa: F401  (fixture)


async def request_schema(client, method: str, path: str) -> dict:
    document = await (await client.get("/openapi.json")).json()
    return document["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]


async def send(client, method: str, url: str, body: dict, headers=OPERATOR):
    response = await client.request(method, url, json=body, headers=headers)
    return response.status, await response.json()


def refused_naming(status: int, payload: dict, field: str) -> bool:
    return status == 422 and payload["error"] == "invalid" and field in payload["fields"]


async def rows(db, table: str) -> list:
    return [tuple(r) for r in await db.fetch(f"SELECT * FROM {table} ORDER BY 1")]


async def test_store_fields_at_and_past_their_bounds(client, db, road_network):
    schema = await request_schema(client, "put", "/v1/stores/{store_id}")
    props = schema["properties"]
    zone_max = props["zone"]["maxLength"]
    pick_max = props["pick_minutes"]["maximum"]
    windows_max = props["opening_hours"]["maxItems"]
    assert (zone_max, pick_max, windows_max) == (
        b.ZONE.max_length, b.STORE_PUT.member("pick_minutes").rule.maximum, b.MAX_OPENING_WINDOWS)
    assert props["pick_minutes"]["exclusiveMinimum"] is True and props["pick_minutes"]["minimum"] == 0
    base = {"name": "Corner", "location": point(road_network, 0), "zone": "nanshan"}
    window = {"days": "mon-fri", "open": "07:00", "close": "23:00"}
    cases = [
        ("zone", {"zone": "z" * zone_max}, {"zone": "z" * (zone_max + 1)}),
        ("zone", {"zone": "nan-shan"}, {"zone": "nan shan"}),
        ("pick_minutes", {"pick_minutes": pick_max}, {"pick_minutes": pick_max + 1e-6}),
        ("pick_minutes", {"pick_minutes": 5e-324}, {"pick_minutes": 0}),
        ("opening_hours", {"opening_hours": [window] * windows_max}, {"opening_hours": [window] * (windows_max + 1)}),
        ("opening_hours[0].close", {"opening_hours": [{**window, "close": "23:59"}]},
         {"opening_hours": [{**window, "close": "24:00"}]}),
        ("name", {"name": "n" * 200}, {"name": "\u3000"}),
    ]
    for i, (field, ok, past) in enumerate(cases):
        before = await rows(db, "stores")
        status, payload = await send(client, "PUT", f"/v1/stores/x{i}", {**base, **past})
        assert refused_naming(status, payload, field), (field, past, payload)
        assert await rows(db, "stores") == before
        status, payload = await send(client, "PUT", f"/v1/stores/x{i}", {**base, **ok})
        assert status == 201, (field, payload)


async def test_stock_fields_at_and_past_their_bounds(client, db, road_network):
    await send(client, "PUT", "/v1/stores/s1", {"name": "s", "location": point(road_network, 0), "zone": "z"})
    schema = await request_schema(client, "put", "/v1/stores/{store_id}/stock")
    item = schema["properties"]["items"]["items"]["properties"]
    quantity_max, sku_max = item["quantity"]["maximum"], item["sku"]["maxLength"]
    version_max = schema["properties"]["version"]["maximum"]
    assert (quantity_max, sku_max, version_max) == (b.MAX_QUANTITY, b.MAX_SKU_LENGTH, b.MAX_VERSION)
    cases = [
        ("items[0].quantity", {"version": 1, "items": [{"sku": "a", "quantity": quantity_max}]},
         {"version": 1, "items": [{"sku": "a", "quantity": quantity_max + 1}]}),
        ("items[0].sku", {"version": 2, "items": [{"sku": "s" * sku_max, "quantity": 1}]},
         {"version": 2, "items": [{"sku": "s" * (sku_max + 1), "quantity": 1}]}),
        ("version", {"version": version_max, "items": []}, {"version": version_max + 1, "items": []}),
    ]
    for field, ok, past in cases:
        before = (await rows(db, "stock"), await db.fetchval("SELECT stock_version FROM stores"))
        status, payload = await send(client, "PUT", "/v1/stores/s1/stock", past)
        assert refused_naming(status, payload, field), (field, payload)
        assert (await rows(db, "stock"), await db.fetchval("SELECT stock_version FROM stores")) == before
        status, payload = await send(client, "PUT", "/v1/stores/s1/stock", ok)
        assert status == 200, (field, payload)
    delta = (await request_schema(client, "patch", "/v1/stores/{store_id}/stock"))["properties"]["changes"]["items"]
    assert delta["properties"]["delta"]["minimum"] == -b.MAX_QUANTITY
    status, payload = await send(client, "PATCH", "/v1/stores/s1/stock",
                                 {"version": version_max + 1, "changes": [{"sku": "a", "delta": -b.MAX_QUANTITY - 1}]})
    assert refused_naming(status, payload, "changes[0].delta") and refused_naming(status, payload, "version")


async def test_courier_fields_at_and_past_their_bounds(client, db, road_network):
    schema = await request_schema(client, "put", "/v1/couriers/{courier_id}")
    capacity_max = schema["properties"]["capacity"]["maximum"]
    assert capacity_max == b.COURIER_PUT.member("capacity").rule.maximum
    base = {"name": "Ana", "zone": "nanshan"}
    status, payload = await send(client, "PUT", "/v1/couriers/c1", {**base, "capacity": capacity_max + 1})
    assert refused_naming(status, payload, "capacity") and await rows(db, "couriers") == []
    status, payload = await send(client, "PUT", "/v1/couriers/c1", {**base, "capacity": capacity_max})
    assert status == 201 and payload["capacity"] == capacity_max
    positions = await request_schema(client, "post", "/v1/couriers/{courier_id}/positions")
    most = positions["properties"]["positions"]["maxItems"]
    assert most == b.MAX_POSITIONS
    here = point(road_network, 0)
    token = await make_token(client, "courier", courier_id="c1")
    for field, past in (("positions", [here] * (most + 1)), ("positions[0].lat", [{**here, "lat": 90.000001}]),
                        ("positions[0].at", [{**here, "at": "2026-11-23T03:00:00"}])):
        status, payload = await send(client, "POST", "/v1/couriers/c1/positions", {"positions": past}, token)
        assert refused_naming(status, payload, field), (field, payload)
    assert await rows(db, "courier_positions") == []
    status, _ = await send(client, "POST", "/v1/couriers/c1/positions", {"positions": [here] * most}, token)
    assert status == 202


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def test_order_fields_at_and_past_their_bounds(client, db, road_network, layout, system):  # noqa: F811
    schema = await request_schema(client, "post", "/v1/orders")
    lines_max = schema["properties"]["items"]["maxItems"]
    quantity_max = schema["properties"]["items"]["items"]["properties"]["quantity"]["maximum"]
    assert (lines_max, quantity_max) == (b.MAX_ORDER_LINES, b.MAX_QUANTITY)
    await add_store(client, road_network, "s1", layout["near"], {f"k{i}": 5 for i in range(lines_max + 1)})
    drop = point(road_network, layout["drop"])
    lines = [{"sku": f"k{i}", "quantity": 1} for i in range(lines_max + 1)]
    cases = [
        ("items", {"items": lines[:lines_max]}, {"items": lines}, 201),
        ("items[0].quantity", {"items": [{"sku": "k0", "quantity": quantity_max}]},
         {"items": [{"sku": "k0", "quantity": quantity_max + 1}]}, 409),  # passes validation: out_of_stock
        ("order_id", {"order_id": "o" * 128}, {"order_id": "o" * 129}, 201),
        ("order_id", {"order_id": "o-ok"}, {"order_id": "o/ok"}, 201),
    ]
    for i, (field, ok, past, status_ok) in enumerate(cases):
        body = {"order_id": f"o{i}", "drop_off": drop, "items": [{"sku": "k0", "quantity": 1}]}
        before = (await rows(db, "stock"), await db.fetchval("SELECT count(*) FROM order_events"))
        status, payload = await send(client, "POST", "/v1/orders", {**body, **past}, system)
        assert refused_naming(status, payload, field), (field, payload)
        assert (await rows(db, "stock"), await db.fetchval("SELECT count(*) FROM order_events")) == before
        status, payload = await send(client, "POST", "/v1/orders", {**body, **ok}, system)
        assert status == status_ok, (field, payload)
    assert await db.fetchval("SELECT count(*) FROM orders") == 3


async def test_ids_in_the_path_follow_the_documented_rule_and_never_reach_the_database_bad(client, db):
    document = await (await client.get("/openapi.json")).json()
    [parameter] = document["paths"]["/v1/stores/{store_id}"]["get"]["parameters"]
    assert parameter["schema"]["maxLength"] == 128 and parameter["schema"]["pattern"] == b.ID.pattern
    for method, path, name in (("GET", "/v1/stores/{}", "store_id"), ("GET", "/v1/stores/{}/stock", "store_id"),
                               ("GET", "/v1/stores/{}/orders", "store_id"), ("GET", "/v1/orders/{}", "order_id"),
                               ("POST", "/v1/orders/{}/cancel", "order_id"), ("GET", "/v1/couriers/{}", "courier_id"),
                               ("DELETE", "/v1/tokens/{}", "token_id")):
        for bad in ("a%00b", "a%20b", "x" * 129):
            response = await client.request(method, path.format(bad), headers=OPERATOR)
            payload = await response.json()
            assert refused_naming(response.status, payload, name), (method, path, bad, payload)
        response = await client.request(method, path.format("x" * 128), headers=OPERATOR)
        assert response.status == 404, (method, path)
    assert (await client.get("/v1/stores/s/stock?sku=a%00", headers=OPERATOR)).status == 422
