"""kill -9 in the middle of an order storm and of a dispatch round; restart; clients retry.

Every order answered 201 exists exactly once, every reservation matches its order, dispatch
resumes after the restart, and no courier ever holds two plans.
"""

from __future__ import annotations

import asyncio

import aiohttp
import asyncpg

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


# The round's second route insert waits on an advisory lock the test holds: the dispatcher is
# then provably inside a round (one route committed, the next one in its transaction) when it
# is killed. A trigger is a real PostgreSQL pause point, not a mock; it is dropped afterwards.
PAUSE_KEY = 0x46_44_50  # "FDP"
PAUSE_SECOND_ROUTE = f"""
CREATE FUNCTION fd_test_pause_second_route() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM routes) >= 2 THEN
        PERFORM pg_advisory_xact_lock_shared({PAUSE_KEY});
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER fd_test_pause_second_route AFTER INSERT ON routes
    FOR EACH ROW EXECUTE FUNCTION fd_test_pause_second_route();
"""
UNPAUSE = """
DROP TRIGGER IF EXISTS fd_test_pause_second_route ON routes;
DROP FUNCTION IF EXISTS fd_test_pause_second_route();
"""


async def test_kill_during_dispatch_round_leaves_consistent_plans(spawn, db, database_url, road_network, layout):  # noqa: F811
    first = spawn(name="a", interval_s=0.2)
    await first.wait_ready()
    world = await build_world(first.url, road_network, layout, stock=1000, couriers=20, capacity=2, on_shift=False)
    bodies = [order_body(f"round-{i}", road_network, layout["drop"]) for i in range(80)]
    answers: dict[str, tuple[int, dict]] = {}
    await asyncio.wait_for(storm(first.url, bodies, world.system, answers=answers), timeout=60)
    assert {s for s, _ in answers.values()} == {201}
    await pack(first.url, [b["order_id"] for b in bodies])
    pause = await asyncpg.connect(database_url)
    try:
        await pause.execute(PAUSE_SECOND_ROUTE)
        assert await pause.fetchval("SELECT pg_try_advisory_lock($1)", PAUSE_KEY)
        await shift_on(first.url, road_network, layout, world)  # the next rounds plan 20 couriers
        # the marker: the round's own INSERT INTO routes, waiting on the pause, one route committed
        paused = await until(lambda: _paused_route_insert(db), timeout_s=20, interval_s=0.02,
                             what="a dispatch round paused at its second route")
        planned_at_kill = await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'")
        assert planned_at_kill == 1
        first.kill()
        # the killed round's open transaction goes when PostgreSQL sees its client gone
        await pause.execute("SELECT pg_advisory_unlock($1)", PAUSE_KEY)
        await until(lambda: _backend_gone(db, paused), timeout_s=20, what="the killed round's backend gone")
    finally:
        await pause.execute("SELECT pg_advisory_unlock_all()")
        await pause.execute(UNPAUSE)
        await pause.close()
    # the paused insert died with its process: still exactly the one route of before the kill
    assert await db.fetchval("SELECT count(*) FROM routes") == 1
    await check_invariants(db)

    second = spawn(name="b", interval_s=0.2)
    await second.wait_ready()
    await until(lambda: _active_routes(db, 20), timeout_s=20, what="every courier planned after restart")
    counts = await check_invariants(db)
    assert counts["active_routes"] == 20 and counts["assigned"] >= 20
    print(f"killed inside a round with {planned_at_kill} route committed; after restart {counts}")


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


async def _paused_route_insert(db) -> int | None:
    """The pid of a backend inside a round's route insert, waiting on the test's pause lock."""
    return await db.fetchval(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        " AND wait_event = 'advisory' AND query LIKE 'INSERT INTO routes%'")


async def _backend_gone(db, pid: int) -> bool:
    return not await db.fetchval("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid)


async def _answered(answers, n: int) -> bool:
    return sum(1 for s, _ in answers.values() if s == 201) >= n


async def _active_routes(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM routes WHERE status = 'active'") >= n


async def _all_assigned(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'") >= n
