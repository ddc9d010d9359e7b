"""Zone modes through real HTTP and PostgreSQL: closed areas (shapely polygons), closed zones,
shrunk radii exactly as the travel-time tables say, promise extensions, and their end."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_orders_api import add_store, layout, nodes_by_time, order, point  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def set_mode(client, zone, **body):
    return await client.put(f"/v1/zones/{zone}/mode", json=body, headers=OPERATOR)


def square_around(network, node, half_deg=0.002):
    lat, lon = float(network.lat[node]), float(network.lon[node])
    ring = [[lon - half_deg, lat - half_deg], [lon + half_deg, lat - half_deg], [lon + half_deg, lat + half_deg],
            [lon - half_deg, lat + half_deg], [lon - half_deg, lat - half_deg]]
    return {"type": "Polygon", "coordinates": [ring]}


async def test_a_closed_area_refuses_drop_offs_inside_and_accepts_those_outside(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    area = square_around(road_network, layout["drop"])
    response = await set_mode(client, "nanshan", closed_area=area, reason="flooded underpass")
    assert response.status == 200, await response.text()
    inside = await client.post("/v1/orders", json=order("in", road_network, layout["drop"], milk=1), headers=system)
    assert inside.status == 422
    assert await inside.json() == {"error": "zone_closed", "detail": "zone nanshan is closed here: flooded underpass",
                                   "zone": "nanshan", "reason": "flooded underpass"}
    outside = await client.post("/v1/orders", json=order("out", road_network, layout["near"], milk=1), headers=system)
    assert outside.status == 201
    assert await db.fetchval("SELECT array_agg(order_id) FROM orders") == ["out"]


async def test_shrinking_the_radius_moves_orders_exactly_where_the_tables_say(client, db, road_network, layout, system):  # noqa: F811
    drop = nodes_by_time(road_network, layout["near"], 300, 360)[0]
    await add_store(client, road_network, "near", layout["near"], {"milk": 10}, radius_minutes=20)
    far_body = {"name": "far", "location": point(road_network, layout["far"]), "zone": "futian", "radius_minutes": 60}
    assert (await client.put("/v1/stores/far", json=far_body, headers=OPERATOR)).status == 201
    await client.put("/v1/stores/far/stock", json={"version": 1, "items": [{"sku": "milk", "quantity": 10}]},
                     headers=OPERATOR)
    catalog = client.app[SERVICES].keeper.current
    ride_s = catalog.tables.from_store_s(catalog.position("near"), drop)
    radius_s = 20 * 60
    assert 0.2 < (ride_s - 5) / radius_s < (ride_s + 5) / radius_s < 1
    await set_mode(client, "nanshan", radius_factor=(ride_s - 5) / radius_s, reason="heavy rain")
    first = await client.post("/v1/orders", json=order("o1", road_network, drop, milk=1), headers=system)
    assert (await first.json())["store_id"] == "far"  # near no longer reaches the door within its radius
    await set_mode(client, "nanshan", radius_factor=(ride_s + 5) / radius_s, reason="lighter rain")
    second = await client.post("/v1/orders", json=order("o2", road_network, drop, milk=1), headers=system)
    assert (await second.json())["store_id"] == "near"


async def test_an_extension_lengthens_the_promise_and_a_closed_zone_refuses_until_its_end(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await set_mode(client, "nanshan", promise_extension_minutes=10, reason="storm")
    placed = await (await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1),
                                      headers=system)).json()
    assert placed["promised_by"] == (clock.now() + timedelta(minutes=40)).isoformat()
    assert placed["promise_extension_minutes"] == 10
    got = await (await client.get("/v1/orders/o1", headers=system)).json()
    assert got["promise_extension_minutes"] == 10
    until = (clock.now() + timedelta(minutes=20)).isoformat()
    assert (await set_mode(client, "nanshan", closed=True, until=until, reason="typhoon")).status == 200
    refused = await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    assert refused.status == 422 and (await refused.json())["error"] == "zone_closed"
    assert "typhoon" in (await refused.json())["detail"]
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_zone_mode{setting="closed",zone="nanshan"} 1.0' in metrics
    summary = await (await client.get("/v1/ops/summary", headers=OPERATOR)).json()
    assert [(m["zone"], m["closed"], m["reason"], m["until"]) for m in summary["zone_modes"]] == [
        ("nanshan", True, "typhoon", until.replace("+00:00", "+00:00"))]
    clock.advance(20 * 60)
    assert (await client.app[SERVICES].dispatcher.tick()).modes_ended == ["nanshan"]
    again = await client.post("/v1/orders", json=order("o3", road_network, layout["drop"], milk=1), headers=system)
    assert again.status == 201 and "promise_extension_minutes" not in await again.json()
    audit = [tuple(r) for r in await db.fetch("SELECT action, actor_type FROM operator_actions ORDER BY action_id")]
    assert audit == [("zone_mode", "operator"), ("zone_mode", "operator"), ("zone_mode_cleared", "system")]


async def test_bad_zone_modes_change_nothing(client, db, road_network, layout):  # noqa: F811
    huge = {"type": "Polygon", "coordinates": [[[0, 0]] * 3000]}
    for bad in ({"radius_factor": 0.1, "reason": "r"}, {"promise_extension_minutes": 61, "reason": "r"},
                {"closed": "yes", "reason": "r"}, {"closed_area": {"type": "Polygon", "coordinates": [[[0, 0]]]},
                                                   "reason": "r"},
                {"closed_area": {"type": "Point", "coordinates": [1, 2]}, "reason": "r"},
                {"closed_area": huge, "reason": "r"}, {"on_overload": "panic", "reason": "r"}, {}):
        response = await set_mode(client, "nanshan", **bad)
        assert response.status == 422 and (await response.json())["error"] == "invalid", bad
    assert await db.fetchval("SELECT count(*) FROM zone_modes") == 0
    cleared = await client.delete("/v1/zones/nanshan/mode", headers=OPERATOR)
    assert cleared.status == 200 and await cleared.json() == {"zone": "nanshan", "cleared": False}
