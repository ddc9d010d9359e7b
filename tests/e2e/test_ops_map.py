"""The operators' map data through real HTTP and PostgreSQL: roads as GeoJSON (built once, gzip),
the snapshot (stores, couriers with routes, open orders at risk, closed areas) and its stream."""

from __future__ import annotations

import asyncio
import gzip
import json
import time

import pytest

from dispatch.keys import MAP_STATE
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)
from tests.e2e.test_zone_modes import square_around


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def test_roads_are_geojson_rounded_built_once_and_gzipped_on_request(client, road_network):
    plain = await client.get("/v1/ops/roads", headers={**OPERATOR, "Accept-Encoding": "identity"})
    assert plain.status == 200
    assert plain.headers.get("Content-Encoding") is None
    body = await plain.read()
    roads = json.loads(body)
    assert roads["type"] == "FeatureCollection" and roads["thinned"] is False
    assert roads["edges"] == len(roads["features"]) > 1000
    coords = [c for f in roads["features"] for c in f["geometry"]["coordinates"]]
    assert all(f["geometry"]["type"] == "LineString" for f in roads["features"])
    assert all(round(x, 5) == x and round(y, 5) == y for x, y in coords)
    b = road_network.bounds
    assert all(b.min_lon - 0.01 <= x <= b.max_lon + 0.01 and b.min_lat - 0.01 <= y <= b.max_lat + 0.01 for x, y in coords)
    layer = client.app[MAP_STATE]._roads
    zipped = await client.get("/v1/ops/roads", headers={**OPERATOR, "Accept-Encoding": "gzip, deflate"},
                              auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip"
    raw = await zipped.read()
    assert len(raw) < len(body) / 3 and gzip.decompress(raw) == body
    assert client.app[MAP_STATE]._roads is layer  # the same bytes: not rebuilt per request
    again = await client.get("/v1/ops/roads", headers={**OPERATOR, "If-None-Match": zipped.headers["ETag"]})
    assert again.status == 304


async def test_map_endpoints_are_for_operators_only(client, system):
    for path in ("/v1/ops/roads", "/v1/ops/snapshot", "/v1/ops/stream"):
        assert (await client.get(path)).status == 401
        refused = await client.get(path, headers=system)
        assert refused.status == 403 and (await refused.json())["error"] == "forbidden"


async def test_snapshot_shows_stores_couriers_routes_orders_at_risk_and_closed_areas(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_courier(client, road_network, "c1", layout["far"])
    off = await add_courier(client, road_network, "c2", layout["far"])
    assert (await client.post("/v1/couriers/c2/shift", json={"state": "off", "position": point(road_network, layout["far"])},
                             headers=off)).status == 200
    for i in range(2):
        assert (await client.post("/v1/orders", json=order(f"o{i}", road_network, layout["drop"], milk=1),
                                  headers=system)).status == 201
    await tick_until_assigned(client, clock, ["o0", "o1"])
    area = square_around(road_network, layout["far"])
    assert (await client.put("/v1/zones/nanshan/mode", json={"closed_area": area, "reason": "flood"},
                             headers=OPERATOR)).status == 200
    snap = await (await client.get("/v1/ops/snapshot", headers=OPERATOR)).json()
    assert [(s["store_id"], s["status"]) for s in snap["stores"]] == [("s1", "online")]
    couriers = {c["courier_id"]: c for c in snap["couriers"]}
    assert couriers["c1"]["state"] == "busy" and couriers["c2"]["state"] == "off"
    assert couriers["c1"]["position_age_s"] >= 0
    line = couriers["c1"]["route"]
    assert line["type"] == "LineString" and len(line["coordinates"]) == 4  # courier, store, two drop-offs
    assert couriers["c2"]["route"] is None
    assert [(o["order_id"], o["status"], o["at_risk"]) for o in snap["orders"]] == [
        ("o0", "assigned", False), ("o1", "assigned", False)]
    assert snap["zone_modes"][0]["closed_area"] == area
    clock.advance(31 * 60)  # the promise passes undelivered
    snap = await (await client.get("/v1/ops/snapshot", headers=OPERATOR)).json()
    assert [o["at_risk"] for o in snap["orders"]] == [True, True]


async def read_event(stream) -> tuple[str, dict]:
    """The next ``snapshot`` message of an SSE stream: its id and data."""
    event_id, data = "", None
    while True:
        line = (await stream.content.readline()).decode().rstrip("\n")
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
        elif line == "" and data is not None:
            return event_id, data


async def test_stream_sends_a_full_snapshot_then_changes_within_two_seconds(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    stream = await client.get("/v1/ops/stream", headers=OPERATOR)
    assert stream.status == 200 and stream.headers["Content-Type"].startswith("text/event-stream")
    first_id, first = await asyncio.wait_for(read_event(stream), 5)
    assert first["orders"] == [] and [s["store_id"] for s in first["stores"]] == ["s1"]
    placed = time.monotonic()
    assert (await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1),
                              headers=system)).status == 201
    second_id, second = await asyncio.wait_for(read_event(stream), 5)
    assert time.monotonic() - placed < 2.0
    assert [o["order_id"] for o in second["orders"]] == ["o1"] and second_id != first_id
    stream.close()
    again = await client.get("/v1/ops/stream", headers={**OPERATOR, "Last-Event-ID": second_id})
    _, fresh = await asyncio.wait_for(read_event(again), 5)  # a reconnect gets the whole city again
    assert [o["order_id"] for o in fresh["orders"]] == ["o1"]
    again.close()


async def test_open_streams_end_on_shutdown(client):
    stream = await client.get("/v1/ops/stream", headers=OPERATOR)
    await asyncio.wait_for(read_event(stream), 5)
    started = time.monotonic()
    await client.close()
    assert time.monotonic() - started < 3.0
    assert client.app[MAP_STATE].closing.is_set()


def test_openapi_documents_the_stream_as_event_stream():
    from dispatch.app import endpoints
    from dispatch.http.openapi import build_openapi

    doc = build_openapi(endpoints())
    assert "text/event-stream" in doc["paths"]["/v1/ops/stream"]["get"]["responses"]["200"]["content"]
    assert "application/json" in doc["paths"]["/v1/ops/snapshot"]["get"]["responses"]["200"]["content"]


class FlakyMap:
    """The first read fails as if the database were down; later reads answer a small city."""

    def __init__(self) -> None:
        self.reads = 0

    async def snapshot(self, *, now):
        self.reads += 1
        if self.reads == 1:
            raise OSError("connection refused")
        return {"at": now.isoformat(), "stores": [], "couriers": [], "orders": [], "zone_modes": []}


async def test_stream_survives_a_database_outage_and_says_so(client):
    from dispatch.keys import SERVICES

    client.app[SERVICES].map = FlakyMap()
    stream = await client.get("/v1/ops/stream", headers=OPERATOR)
    lines = []
    while not any(line.startswith("data: ") for line in lines):
        lines.append((await asyncio.wait_for(stream.content.readline(), 5)).decode().rstrip("\n"))
    assert ": database unavailable" in lines
    stream.close()
