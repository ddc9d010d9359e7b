"""The operators' map and the tracking page in a real headless chromium against a running service
with a small city: roads drawn, markers as the API says, an at-risk order marked, a click on hold
lands in the database and on the page, the tracking page follows an order to delivered, and no
request leaves the service."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from dispatch.keys import STATIC_FILES
from dispatch.sim.browser import Browser, chromium_path
from tests.conftest import OPERATOR, OPERATOR_TOKEN, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)

PAGE_FILES = ("ops.html", "ops.js", "ops.css", "vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css")
ROAD_GREY = (0x8D, 0x8D, 0x8D)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def small_city(client, network, layout, system, clock) -> list:  # noqa: F811
    """Two stores (one paused), two couriers, an order already late, two assigned, one waiting."""
    await add_store(client, network, "s1", layout["near"], {"milk": 50})
    await add_store(client, network, "s2", layout["far"], {"milk": 50})
    alive = [(c, await add_courier(client, network, c, layout["far"]), point(network, layout["far"])) for c in ("c1", "c2")]
    late = order("late", network, layout["drop"], milk=1)
    assert (await client.post("/v1/orders", json=late, headers=system)).status == 201
    clock.advance(31 * 60)  # its promise passes
    for oid in ("o1", "o2"):
        assert (await client.post("/v1/orders", json=order(oid, network, layout["drop"], milk=1),
                                  headers=system)).status == 201
    await tick_until_assigned(client, clock, ["late", "o1", "o2"], alive=alive)
    await client.post("/v1/orders", json=order("o3", network, layout["drop"], milk=1), headers=system)
    paused = {"status": "paused", "reason": "inventory count"}
    assert (await client.put("/v1/stores/s2/status", json=paused, headers=OPERATOR)).status == 200
    return alive


def road_pixels(png: bytes) -> int:
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return int((np.abs(pixels - np.array(ROAD_GREY)).max(axis=2) <= 24).sum())


async def open_map(browser: Browser, base: str) -> float:
    """Log in through the page's form; seconds from navigation to roads and the first snapshot drawn."""
    started = time.monotonic()
    await browser.navigate(base + "/ops")
    await browser.wait_for("document.getElementById('login') && !document.getElementById('login').hidden")
    await browser.evaluate(f"document.getElementById('token-input').value = '{OPERATOR_TOKEN}';"
                           " document.getElementById('login').requestSubmit(); true")  # fmt: skip
    await browser.wait_for("document.body.dataset.roads > 0 && document.body.dataset.renders >= 1")
    return time.monotonic() - started


async def check_markers(browser: Browser, client) -> None:
    snap = await (await client.get("/v1/ops/snapshot", headers=OPERATOR)).json()
    count = "document.querySelectorAll({!r}).length"
    assert await browser.evaluate(count.format("#map [data-courier-id]")) == sum(
        1 for c in snap["couriers"] if c["position"])
    assert await browser.evaluate(count.format("#map [data-order-id]")) == sum(1 for o in snap["orders"] if o["drop_off"])
    assert await browser.evaluate(count.format("#map [data-store-id]")) == len(snap["stores"]) == 2
    assert await browser.evaluate(count.format('#map [data-store-id="s2"][data-status="paused"]')) == 1
    at_risk = {o["order_id"] for o in snap["orders"] if o["at_risk"]}
    assert "late" in at_risk
    marked = await browser.evaluate("Array.from(document.querySelectorAll('#map [data-at-risk=\"true\"]'))"
                                    ".map(e => e.dataset.orderId)")  # fmt: skip
    assert set(marked) == at_risk
    await browser.evaluate("document.getElementById('at-risk-only').click(); true")  # the filter
    assert await browser.evaluate(count.format("#map [data-order-id]")) == len(at_risk)
    assert await browser.evaluate(count.format("[data-row-order]")) == len(at_risk)
    await browser.evaluate("document.getElementById('at-risk-only').click(); true")


async def click_hold(browser: Browser, db) -> float:
    """Click hold on o3; seconds from the database showing it held to the page showing it."""
    await browser.evaluate("document.querySelector('button[data-action=\"hold\"][data-order=\"o3\"]').click(); true")
    deadline = time.monotonic() + 5
    while await db.fetchval("SELECT status FROM orders WHERE order_id = 'o3'") != "held":
        assert time.monotonic() < deadline, "the click did not hold the order"
    held_at = time.monotonic()
    await browser.wait_for("document.querySelector('[data-row-order=\"o3\"]')?.dataset.status === 'held'",
                           timeout_s=2.0)  # fmt: skip
    return time.monotonic() - held_at


async def refused_action_shows_the_api_error(browser: Browser, db) -> None:
    """A reason over 500 characters: the API refuses (422) and the page says why; nothing changes."""
    await browser.evaluate("document.getElementById('reason').value = 'x'.repeat(501);"
                           " document.querySelector('button[data-action=\"store\"][data-store=\"s1\"]').click(); true")
    await browser.wait_for("document.getElementById('error').dataset.status === '422'", timeout_s=3)
    assert "invalid" in await browser.evaluate("document.getElementById('error').textContent")
    assert await db.fetchval("SELECT status FROM stores WHERE store_id = 's1'") == "online"
    await browser.evaluate("document.getElementById('reason').value = 'operator map'; true")


async def follow_tracking(browser: Browser, client, base: str, system, clock, network, layout, alive) -> None:  # noqa: F811
    alive = [*alive, ("c3", await add_courier(client, network, "c3", layout["near"]), point(network, layout["near"]))]
    placed = await client.post("/v1/orders", json=order("t1", network, layout["drop"], milk=1), headers=system)
    await browser.navigate(base + (await placed.json())["tracking_url"])
    status = "document.getElementById('status')?.dataset.status"
    await browser.wait_for(f"{status} === 'reserved'")
    await tick_until_assigned(client, clock, ["t1"], alive=alive)
    courier = (await (await client.get("/v1/orders/t1", headers=OPERATOR)).json())["courier_id"]
    token = await make_token(client, "courier", courier_id=courier)
    events = f"/v1/couriers/{courier}/events"
    assert (await client.post(events, json={"order_id": "t1", "type": "picked_up"}, headers=token)).status == 200
    await browser.wait_for(f"{status} === 'picked_up' && document.getElementById('courier').dataset.courier === 'shown'",
                           timeout_s=5)  # fmt: skip
    assert (await client.post(events, json={"order_id": "t1", "type": "delivered"}, headers=token)).status == 200
    await browser.wait_for(f"{status} === 'delivered' && document.getElementById('courier').dataset.courier === 'none'",
                           timeout_s=5)  # fmt: skip


async def test_ops_map_and_tracking_page_in_a_real_browser(client, db, road_network, layout, system, clock, tmp_path):  # noqa: F811
    alive = await small_city(client, road_network, layout, system, clock)
    base = str(client.make_url("")).rstrip("/")
    weight = client.app[STATIC_FILES].total_bytes(PAGE_FILES)
    assert chromium_path(), "chromium is missing: run `make chromium` (never a skip)"
    browser = await Browser(tmp_path / "profile").start()
    try:
        first_render_s = await open_map(browser, base)
        png = await browser.screenshot(tmp_path / "ops-map.png")
        print(f"screenshot: {tmp_path / 'ops-map.png'}")
        assert road_pixels(png) > 2000, "the roads layer looks blank"
        await check_markers(browser, client)
        sse_latency_s = await click_hold(browser, db)
        await refused_action_shows_the_api_error(browser, db)
        await browser.screenshot(tmp_path / "ops-map-held.png")
        print(f"screenshot: {tmp_path / 'ops-map-held.png'}")
        await follow_tracking(browser, client, base, system, clock, road_network, layout, alive)
        await browser.screenshot(tmp_path / "tracking-delivered.png")
        print(f"screenshot: {tmp_path / 'tracking-delivered.png'}")
    finally:
        await browser.close()
    own = urlsplit(base).netloc
    elsewhere = [u for u in browser.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")
                 and urlsplit(u).netloc != own]  # fmt: skip
    assert not elsewhere, elsewhere
    assert all(urlsplit(u).scheme in ("http", "data") for u in browser.requests), browser.requests
    # every API call the page made is one the OpenAPI document lists
    document = await (await client.get("/openapi.json")).json()
    templates = [re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "$") for path in document["paths"]]
    api_calls = {urlsplit(u).path for u in browser.requests if urlsplit(u).path.startswith("/v1/")}
    assert {"/v1/ops/roads", "/v1/ops/stream"} <= api_calls, api_calls  # the stream carries the snapshots
    assert [c for c in api_calls if not any(t.match(c) for t in templates)] == [], api_calls
    print(f"page weight {weight} bytes (HTML+JS+CSS); first render {first_render_s:.2f} s;"
          f" hold -> page {sse_latency_s:.2f} s; {len(browser.requests)} requests, all to {own}")
