"""The late sweeper: an order never delivered is counted late exactly once, at its promise —
also when the service restarts between placement and promise — and no later event recounts it.

Real HTTP on 127.0.0.1, real PostgreSQL, virtual clocks; outcomes checked in the app's
metrics and in the database.
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.clock import VirtualClock
from dispatch.keys import METRICS, SERVICES
from tests.conftest import OPERATOR, T0, make_token
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)

PROMISE = T0 + timedelta(minutes=30)  # an order placed at T0 (SLA 30 minutes)
OUTCOMES = ("on_time", "late", "cancelled", "failed")


def outcomes(app) -> dict[str, float]:
    registry = app[METRICS].registry
    return {
        o: registry.get_sample_value("flashdispatch_order_outcomes_total", {"zone": "nanshan", "outcome": o})
        for o in OUTCOMES
    }


def counted(app, **nonzero: float) -> dict[str, float]:
    """The expected outcome counters: zero except ``nonzero``."""
    return {o: float(nonzero.get(o, 0)) for o in OUTCOMES}


async def start(aiohttp_client, clock, *, settings, database_url, road_network):
    app = create_app(settings, clock=clock, registry=CollectorRegistry(), database_url=database_url,
                     road_network=road_network, run_dispatch_loop=False)
    return await aiohttp_client(app)


async def place(client, network, layout, order_id="o1"):  # noqa: F811
    system = await make_token(client, "order_system")
    response = await client.post("/v1/orders", json=order(order_id, network, layout["drop"], milk=1), headers=system)
    assert response.status == 201, await response.text()
    assert (await response.json())["promised_by"] == PROMISE.isoformat()
    return system


async def test_late_once_at_the_promise_across_a_restart(aiohttp_client, db, database_url, road_network, settings, layout):  # noqa: F811
    env = {"settings": settings, "database_url": database_url, "road_network": road_network}
    clock_a = VirtualClock(T0)
    a = await start(aiohttp_client, clock_a, **env)
    await add_store(a, road_network, "s1", layout["near"], {"milk": 5})
    await place(a, road_network, layout)
    clock_a.advance(10 * 60)
    assert (await a.app[SERVICES].dispatcher.tick()).late == 0
    await a.close()  # app A stops (pool and zone lease closed) before the promise

    clock_b = VirtualClock(PROMISE)
    b = await start(aiohttp_client, clock_b, **env)
    # B knows the zone from the database at start: its series are there, at zero
    scrape = await (await b.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="late",zone="nanshan"} 0.0' in scrape
    dispatcher = b.app[SERVICES].dispatcher
    assert (await dispatcher.tick()).late == 0  # at the promise the order is still on time
    clock_b.advance(1)
    assert (await dispatcher.tick()).late == 1
    row = await db.fetchrow("SELECT status, outcome, outcome_at FROM orders WHERE order_id = 'o1'")
    assert (row["status"], row["outcome"], row["outcome_at"]) == ("reserved", "late", clock_b.now())
    clock_b.advance(60)
    assert (await dispatcher.tick()).late == 0
    assert outcomes(b.app) == counted(b.app, late=1)
    assert outcomes(a.app) == counted(a.app)
    assert outcomes(a.app)["late"] + outcomes(b.app)["late"] == 1
    scrape = await (await b.get("/metrics")).text()
    assert 'flashdispatch_order_outcomes_total{outcome="late",zone="nanshan"} 1.0' in scrape
    assert await db.fetchval("SELECT count(*) FROM orders WHERE outcome IS NOT NULL") == 1


async def test_two_apps_sweeping_the_same_database_count_late_once(aiohttp_client, db, database_url, road_network, settings, layout):  # noqa: F811
    """Two processes past the promise at once (e.g. a rolling restart): the database decides."""
    env = {"settings": settings, "database_url": database_url, "road_network": road_network}
    clock = VirtualClock(T0)
    a = await start(aiohttp_client, clock, **env)
    await add_store(a, road_network, "s1", layout["near"], {"milk": 5})
    b = await start(aiohttp_client, clock, **env)  # after the store: see the xfail below
    await place(a, road_network, layout)
    clock.set(PROMISE + timedelta(seconds=1))
    for app in (a.app, b.app):
        app[SERVICES].dispatcher.lease.claim = _every_zone
    reports = [await a.app[SERVICES].dispatcher.tick(), await b.app[SERVICES].dispatcher.tick()]
    assert sorted(r.late for r in reports) == [0, 1]
    assert outcomes(a.app)["late"] + outcomes(b.app)["late"] == 1


async def _every_zone(zones):
    return set(zones)


async def test_dispatcher_started_before_a_store_registered_elsewhere_sweeps_its_orders(aiohttp_client, db, database_url, road_network, settings, layout):  # noqa: F811
    env = {"settings": settings, "database_url": database_url, "road_network": road_network}
    clock = VirtualClock(T0)
    dispatcher_app = await start(aiohttp_client, clock, **env)
    api = await start(aiohttp_client, clock, **env)
    await add_store(api, road_network, "s1", layout["near"], {"milk": 5})
    await place(api, road_network, layout)
    clock.set(PROMISE + timedelta(seconds=1))
    assert (await dispatcher_app.app[SERVICES].dispatcher.tick()).late == 1


async def test_delivered_after_the_sweeper_stays_late(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    token = await add_courier(client, road_network, "c1", layout["near"])
    await place(client, road_network, layout)
    await tick_until_assigned(client, clock, ["o1"])
    picked = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "picked_up"}, headers=token)
    assert picked.status == 200, await picked.text()
    clock.set(PROMISE + timedelta(seconds=1))
    await client.post("/v1/couriers/c1/positions", json={"positions": [{"lat": 22.54, "lon": 114.03}]}, headers=token)
    assert (await client.app[SERVICES].dispatcher.tick()).late == 1
    clock.advance(300)
    delivered = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "delivered"}, headers=token)
    assert delivered.status == 200, await delivered.text()
    again = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "delivered"}, headers=token)
    assert again.status == 200
    assert (await client.app[SERVICES].dispatcher.tick()).late == 0
    row = await db.fetchrow("SELECT status, outcome FROM orders")
    assert (row["status"], row["outcome"]) == ("delivered", "late")
    assert outcomes(client.app) == counted(client.app, late=1)
    registry = client.app[METRICS].registry
    # click-to-door is still observed once, past the 30-minute bucket
    assert registry.get_sample_value("flashdispatch_delivery_duration_seconds_count", {"zone": "nanshan"}) == 1
    assert registry.get_sample_value("flashdispatch_delivery_duration_seconds_bucket",
                                     {"zone": "nanshan", "le": "1800.0"}) == 0


async def test_delivered_late_before_any_sweep_is_counted_once(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    token = await add_courier(client, road_network, "c1", layout["near"])
    await place(client, road_network, layout)
    await tick_until_assigned(client, clock, ["o1"])
    await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "picked_up"}, headers=token)
    clock.set(PROMISE + timedelta(seconds=1))
    delivered = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": "delivered"}, headers=token)
    assert delivered.status == 200, await delivered.text()
    await client.post("/v1/couriers/c1/positions", json={"positions": [{"lat": 22.54, "lon": 114.03}]}, headers=token)
    assert (await client.app[SERVICES].dispatcher.tick()).late == 0
    assert await db.fetchval("SELECT outcome FROM orders") == "late"
    assert outcomes(client.app) == counted(client.app, late=1)


async def test_cancelled_before_the_promise_is_cancelled_not_late(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    system = await place(client, road_network, layout)
    clock.set(PROMISE)  # still in time: at the promise is before it has passed
    assert (await client.post("/v1/orders/o1/cancel", headers=system)).status == 200
    clock.advance(3600)
    assert (await client.app[SERVICES].dispatcher.tick()).late == 0
    assert await db.fetchval("SELECT outcome FROM orders") == "cancelled"
    assert outcomes(client.app) == counted(client.app, cancelled=1)


async def test_cancelled_after_the_sweeper_stays_late(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    system = await place(client, road_network, layout)
    clock.set(PROMISE + timedelta(seconds=1))
    assert (await client.app[SERVICES].dispatcher.tick()).late == 1
    assert (await client.post("/v1/orders/o1/cancel", headers=system)).status == 200
    row = await db.fetchrow("SELECT status, outcome FROM orders")
    assert (row["status"], row["outcome"]) == ("cancelled", "late")
    assert outcomes(client.app) == counted(client.app, late=1)


async def test_failed_after_the_promise_keeps_late(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 5})
    await place(client, road_network, layout)  # nobody on shift: it will never be served
    dispatcher = client.app[SERVICES].dispatcher
    clock.set(PROMISE + timedelta(seconds=1))
    assert (await dispatcher.tick()).late == 1
    clock.advance(dispatcher.policy.fail_after_s)
    report = await dispatcher.tick()
    assert (report.late, report.failed) == (0, 1)
    row = await db.fetchrow("SELECT status, outcome FROM orders")
    assert (row["status"], row["outcome"]) == ("failed", "late")
    assert outcomes(client.app) == counted(client.app, late=1)
    assert await db.fetchval("SELECT sum(reserved) FROM stock") == 0
    response = await client.get("/v1/orders/o1", headers=OPERATOR)
    assert (await response.json())["status"] == "failed"
