"""kill -9 in the middle of an order storm and of a dispatch round; restart; clients retry.

Every order answered 201 exists exactly once, every reservation matches its order, dispatch
resumes after the restart, and no courier ever holds two plans.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp

from tests.e2e.test_orders_api import layout  # noqa: F401  (fixture)
from tests.faults.conftest import until
from tests.faults.world import build_world, call, check_invariants, order_body, pack, shift_on, storm

STORM_ORDERS = 400


async def test_kill_during_order_storm_loses_and_duplicates_nothing(spawn, db, road_network, layout):  # noqa: F811
    first = spawn(name="a")
    await first.wait_ready()
    world = await build_world(first.url, road_network, layout, stock=10_000, couriers=8)
    bodies = [order_body(f"storm-{i}", road_network, layout["drop"]) for i in range(STORM_ORDERS)]
    answers: dict[str, tuple[int, dict]] = {}

    async def kill_midway() -> None:
        await until(lambda: _answered(answers, 120), timeout_s=30, interval_s=0.005, what="120 orders answered")
        first.kill()

    await asyncio.wait_for(asyncio.gather(storm(first.url, bodies, world.system, answers=answers), kill_midway()),
                           timeout=60)
    created_before = {k: v for k, v in answers.items() if v[0] == 201}
    assert 120 <= len(created_before) < STORM_ORDERS, "the kill did not land in the middle of the storm"
    assert all(status == 201 for status, _ in answers.values()), {s for s, _ in answers.values()}

    second = spawn(name="b")
    await second.wait_ready()
    retried: dict[str, tuple[int, dict]] = {}
    await asyncio.wait_for(storm(second.url, bodies, world.system, answers=retried), timeout=60)
    assert {status for status, _ in retried.values()} == {201} and len(retried) == STORM_ORDERS
    for order_id, (_, body) in created_before.items():
        assert retried[order_id][1] == body, f"{order_id}: the retry did not replay the first answer"
    assert await db.fetchval("SELECT count(*) FROM orders") == STORM_ORDERS
    assert await db.fetchval("SELECT count(DISTINCT order_id) FROM orders WHERE order_id LIKE 'storm-%'") == STORM_ORDERS
    assert await db.fetchval("SELECT on_hand FROM stock WHERE sku = 'milk'") == 10_000
    await check_invariants(db)

    # dispatch resumes in the restarted process: every courier gets a plan
    await pack(second.url, [b["order_id"] for b in bodies])
    await until(lambda: _active_routes(db, 8), timeout_s=20, what="every courier planned after restart")
    await check_invariants(db)


async def test_kill_during_dispatch_round_leaves_consistent_plans(spawn, db, road_network, layout):  # noqa: F811
    first = spawn(name="a", interval_s=0.2)
    await first.wait_ready()
    world = await build_world(first.url, road_network, layout, stock=1000, couriers=20, capacity=2, on_shift=False)
    bodies = [order_body(f"round-{i}", road_network, layout["drop"]) for i in range(80)]
    answers: dict[str, tuple[int, dict]] = {}
    await asyncio.wait_for(storm(first.url, bodies, world.system, answers=answers), timeout=60)
    assert {s for s, _ in answers.values()} == {201}
    await pack(first.url, [b["order_id"] for b in bodies])
    await shift_on(first.url, road_network, layout, world)  # the next round plans 20 couriers
    at_kill = await until(lambda: _active_routes(db, 1), timeout_s=20, interval_s=0.002, what="a first route")
    first.kill()
    planned_at_kill = await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'")
    await check_invariants(db)

    started = time.monotonic()
    second = spawn(name="b", interval_s=0.2)
    await second.wait_ready()
    await until(lambda: _active_routes(db, 20), timeout_s=20, what="every courier planned after restart")
    counts = await check_invariants(db)
    assert counts["assigned"] >= 20
    assert at_kill and planned_at_kill >= 1
    assert time.monotonic() - started < 40


async def test_orders_answered_while_dispatcher_restarts_are_all_dispatched(spawn, db, road_network, layout):  # noqa: F811
    api = spawn(name="api", role="api")
    dispatcher = spawn(name="d1", role="dispatcher")
    await asyncio.gather(api.wait_ready(), dispatcher.wait_ready())
    world = await build_world(api.url, road_network, layout, stock=1000, couriers=6, capacity=3)
    answers: dict[str, tuple[int, dict]] = {}
    bodies = [order_body(f"dr-{i}", road_network, layout["drop"]) for i in range(12)]
    dispatcher.kill()
    await storm(api.url, bodies, world.system, answers=answers)
    assert {s for s, _ in answers.values()} == {201}
    assert await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'") == 0
    await pack(api.url, [b["order_id"] for b in bodies])
    replacement = spawn(name="d2", role="dispatcher")
    await replacement.wait_ready()
    await until(lambda: _all_assigned(db, 12), timeout_s=20, what="all 12 orders assigned")
    await check_invariants(db)
    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "GET", api.url + "/v1/orders/dr-0", headers=world.system)
    assert status == 200 and body["status"] == "assigned"


async def _answered(answers, n: int) -> bool:
    return sum(1 for s, _ in answers.values() if s == 201) >= n


async def _active_routes(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'") >= n


async def _all_assigned(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'") >= n
