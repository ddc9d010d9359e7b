"""A small world set up through a service's real HTTP API, and the invariants checked after faults."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import aiohttp

from tests.e2e.test_orders_api import point
from tests.faults.conftest import OPERATOR

ZONE = "nanshan"


@dataclass
class World:
    system: dict[str, str] = field(default_factory=dict)  # the order system's headers
    couriers: dict[str, dict[str, str]] = field(default_factory=dict)  # courier id -> headers


async def call(session: aiohttp.ClientSession, method: str, url: str, **kwargs) -> tuple[int, dict]:
    async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=15), **kwargs) as r:
        try:
            body = await r.json(content_type=None)
        except ValueError:
            body = {"raw": await r.text()}
        return r.status, body


async def token(session, base: str, role: str, **scope: str) -> dict[str, str]:
    status, body = await call(session, "POST", base + "/v1/tokens", json={"role": role, **scope}, headers=OPERATOR)
    assert status == 201, body
    return {"Authorization": f"Bearer {body['token']}"}


async def build_world(base: str, network, layout, *, stock: int, couriers: int = 0,
                      capacity: int = 3, on_shift: bool = True) -> World:
    world = World()
    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "PUT", base + "/v1/stores/s1", headers=OPERATOR, json={
            "name": "s1", "location": point(network, layout["near"]), "zone": ZONE})
        assert status in (200, 201), body
        status, body = await call(session, "PUT", base + "/v1/stores/s1/stock", headers=OPERATOR,
                                  json={"version": 1, "items": [{"sku": "milk", "quantity": stock}]})
        assert status == 200, body
        world.system = await token(session, base, "order_system")
        for i in range(couriers):
            courier_id = f"c{i}"
            status, body = await call(session, "PUT", f"{base}/v1/couriers/{courier_id}", headers=OPERATOR,
                                      json={"name": courier_id, "zone": ZONE, "capacity": capacity})
            assert status in (200, 201), body
            world.couriers[courier_id] = await token(session, base, "courier", courier_id=courier_id)
        if on_shift:
            await shift_on(base, network, layout, world)
    return world


async def shift_on(base: str, network, layout, world: World) -> None:
    """Couriers start far from the store (8-12 min): the engine commits them at once."""
    async with aiohttp.ClientSession() as session:
        for courier_id, headers in world.couriers.items():
            status, body = await call(session, "POST", f"{base}/v1/couriers/{courier_id}/shift", headers=headers,
                                      json={"state": "on", "position": point(network, layout["far"])})
            assert status == 200, body


def order_body(order_id: str, network, node) -> dict:
    return {"order_id": order_id, "items": [{"sku": "milk", "quantity": 1}], "drop_off": point(network, node)}


async def storm(base: str, bodies: list[dict], headers: dict, *, concurrency: int = 32,
                answers: dict[str, tuple[int, dict]], stop: asyncio.Event | None = None) -> None:
    """Post every body (``concurrency`` at a time), recording each answer; a connection failure
    (the service died) leaves the order unanswered."""
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty() and not (stop and stop.is_set()):
            body = queue.get_nowait()
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                answers[body["order_id"]] = await call(session, "POST", base + "/v1/orders", json=body,
                                                       headers=headers)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))


async def check_invariants(db) -> dict[str, int]:
    """What must hold after any crash: reservations match orders, one plan per courier, no order
    in two plans, every assignment consistent. Returns a few counts for the report."""
    mismatched = await db.fetch(
        "SELECT s.store_id, s.sku, s.reserved, coalesce(o.held, 0) AS held FROM stock s LEFT JOIN ("
        "  SELECT o.store_id, l.sku, sum(l.quantity) AS held FROM orders o JOIN order_lines l USING (order_id)"
        "  WHERE o.status IN ('reserved', 'assigned') GROUP BY 1, 2) o USING (store_id, sku)"
        " WHERE s.reserved <> coalesce(o.held, 0)")
    assert not mismatched, f"reservations do not match orders: {[dict(r) for r in mismatched]}"
    two_plans = await db.fetch(
        "SELECT courier_id FROM routes WHERE status = 'active' GROUP BY courier_id HAVING count(*) > 1")
    assert not two_plans, f"couriers with two plans: {two_plans}"
    twice = await db.fetch(
        "SELECT x->>'order_id' AS order_id FROM routes, jsonb_array_elements(plan->'orders') x"
        " WHERE status = 'active' GROUP BY 1 HAVING count(*) > 1")
    assert not twice, f"orders in two active plans: {twice}"
    broken = await db.fetch(
        "SELECT o.order_id FROM orders o LEFT JOIN routes r ON r.route_id = o.route_id"
        " WHERE o.status = 'assigned' AND (r.status IS DISTINCT FROM 'active' OR r.courier_id <> o.courier_id)")
    assert not broken, f"assigned orders without their active route: {broken}"
    stray = await db.fetch(
        "SELECT c.courier_id FROM couriers c LEFT JOIN routes r ON r.route_id = c.route_id"
        " WHERE c.route_id IS NOT NULL AND r.status IS DISTINCT FROM 'active'")
    assert not stray, f"couriers pointing at a closed route: {stray}"
    events = await db.fetch(
        "SELECT o.order_id FROM orders o WHERE NOT EXISTS"
        " (SELECT 1 FROM order_events e WHERE e.order_id = o.order_id AND e.type = 'order.reserved')")
    assert not events, f"orders without their reserved event: {events}"
    return {
        "orders": await db.fetchval("SELECT count(*) FROM orders"),
        "assigned": await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'"),
        "active_routes": await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'"),
    }


async def pack(base: str, order_ids: list[str], *, concurrency: int = 16) -> None:
    """The store packs the orders (ready now), so the engine commits couriers at once."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for order_id in order_ids:
        queue.put_nowait(order_id)

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            order_id = queue.get_nowait()
            status, body = await call(session, "POST", f"{base}/v1/stores/s1/orders/{order_id}/packed",
                                      headers=OPERATOR)
            assert status == 200, body

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
