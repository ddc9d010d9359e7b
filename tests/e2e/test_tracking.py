"""The customer's tracking link through real HTTP and PostgreSQL: unguessable, stored as a digest,
replayed with the order's 201, showing the courier only between pickup and delivery."""

from __future__ import annotations

import gzip
import hashlib
import re

import pytest

from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)

LINK = re.compile(r"^/t/([A-Za-z0-9_-]{32})$")


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def place(client, system, network, node, order_id):
    response = await client.post("/v1/orders", json=order(order_id, network, node, milk=1), headers=system)
    assert response.status == 201, await response.text()
    return await response.json()


async def track(client, token):
    response = await client.get(f"/t/{token}.json")
    return response.status, await response.json()


async def test_every_order_gets_a_link_kept_as_a_digest_and_replayed_with_the_201(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    first = await place(client, system, road_network, layout["drop"], "o1")
    token = LINK.match(first["tracking_url"]).group(1)
    assert await db.fetchval("SELECT tracking_hash FROM orders WHERE order_id = 'o1'") == hashlib.sha256(
        token.encode()).digest()
    replay = await place(client, system, road_network, layout["drop"], "o1")
    assert replay == first  # the same link: the 201 is stored with the order
    other = await place(client, system, road_network, layout["drop"], "o2")
    assert other["tracking_url"] != first["tracking_url"]
    read = await (await client.get("/v1/orders/o1", headers=OPERATOR)).text()
    assert token not in read and "tracking" not in read  # the link is the customer's, not the API's
    status, body = await track(client, token)
    assert status == 200
    assert body == {"status": "reserved", "promised_by": first["promised_by"],
                    "predicted_delivery_at": first["predicted_delivery_at"], "delivered_at": None, "courier": None}
    assert "order_id" not in body and "o1" not in str(body)


async def test_a_wrong_or_unknown_link_is_the_same_404(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    token = LINK.match((await place(client, system, road_network, layout["drop"], "o1"))["tracking_url"]).group(1)
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    answers = [await track(client, t) for t in (flipped, "x" * 32, "short", token.lower(), token + "x")]
    assert all(a == (404, {"error": "not_found", "detail": "no order has this tracking link"}) for a in answers)
    assert (await track(client, token))[0] == 200


async def test_the_courier_shows_only_between_pickup_and_delivery(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    courier = await add_courier(client, road_network, "c1", layout["far"])
    token = LINK.match((await place(client, system, road_network, layout["drop"], "o1"))["tracking_url"]).group(1)
    await tick_until_assigned(client, clock, ["o1"])
    _, body = await track(client, token)
    assert (body["status"], body["courier"]) == ("assigned", None)
    event = {"order_id": "o1", "type": "picked_up"}
    assert (await client.post("/v1/couriers/c1/events", json=event, headers=courier)).status == 200
    here = {"lat": 22.53, "lon": 113.93}
    assert (await client.post("/v1/couriers/c1/positions", json={"positions": [here]}, headers=courier)).status in (200, 202)
    _, body = await track(client, token)
    assert body["status"] == "picked_up"
    assert (body["courier"]["lat"], body["courier"]["lon"]) == (here["lat"], here["lon"])
    clock.advance(120)
    event = {"order_id": "o1", "type": "delivered"}
    assert (await client.post("/v1/couriers/c1/events", json=event, headers=courier)).status == 200
    _, body = await track(client, token)
    assert (body["status"], body["courier"]) == ("delivered", None) and body["delivered_at"] is not None


async def test_the_tracking_page_and_its_files_come_from_the_service_only(client):
    page = await client.get("/t/" + "a" * 32)
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    html = await page.text()
    assert "/static/track.js" in html and "http:" not in html and "https:" not in html
    script = await client.get("/static/track.js")
    assert script.status == 200 and script.content_type == "text/javascript"
    assert (await client.get("/static/nothing.js")).status == 404
    assert (await client.get("/static/../app.py")).status == 404


async def test_the_ops_page_ships_its_map_library_and_asks_nothing_of_other_hosts(client):
    page = await client.get("/ops")
    assert page.status == 200 and page.content_type == "text/html"
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self';")
    html = await page.text()
    assert "http:" not in html and "https:" not in html
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "/static/vendor/leaflet/leaflet.js" in refs
    for ref in refs:
        assert ref.startswith("/static/") and (await client.get(ref)).status == 200, ref
    licence = await (await client.get("/static/vendor/leaflet/LICENSE")).text()
    assert licence.startswith("BSD 2-Clause License") and "Agafonkin" in licence


async def test_static_text_files_are_gzipped_when_the_client_takes_it(client):
    plain = await client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "identity"})
    zipped = await client.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip"},
                              auto_decompress=False)
    assert zipped.headers["Content-Encoding"] == "gzip" and plain.headers.get("Content-Encoding") is None
    raw, body = await zipped.read(), await plain.read()
    assert len(raw) < len(body) / 2 and gzip.decompress(raw) == body
    icon = await client.get("/static/vendor/leaflet/images/layers.png", headers={"Accept-Encoding": "gzip"})
    assert icon.content_type == "image/png" and icon.headers.get("Content-Encoding") is None
