"""A dispatcher that loses a zone's lease stops reporting that zone's backlog.

Dashboards and alerts reduce per-zone gauges with ``max by (zone, …)`` across processes, so a
process that no longer dispatches a zone must report zeros there, not its last values.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.clock import VirtualClock
from dispatch.keys import METRICS, SERVICES
from tests.conftest import T0, make_token
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


def in_flight(app, stage: str) -> float | None:
    return app[METRICS].registry.get_sample_value(
        "flashdispatch_orders_in_flight", {"zone": "nanshan", "stage": stage}
    )


async def test_gauges_of_a_lost_zone_go_to_zero(aiohttp_client, db, database_url, road_network, settings, layout):  # noqa: F811
    clock = VirtualClock(T0)

    async def start():
        app = create_app(settings, clock=clock, registry=CollectorRegistry(), database_url=database_url,
                         road_network=road_network, run_dispatch_loop=False)
        return await aiohttp_client(app)

    a = await start()
    await add_store(a, road_network, "s1", layout["near"], {"milk": 5})
    b = await start()
    system = await make_token(a, "order_system")
    assert (await a.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)).status == 201
    first = await a.app[SERVICES].dispatcher.tick()
    assert first.zones == ("nanshan",) and in_flight(a.app, "reserved") == 1
    assert (await b.app[SERVICES].dispatcher.tick()).zones == ()  # standby

    await a.app[SERVICES].dispatcher.lease.close()  # A's lease connection drops; B takes over
    assert (await b.app[SERVICES].dispatcher.tick()).zones == ("nanshan",)
    assert (await a.app[SERVICES].dispatcher.tick()).zones == ()
    assert (await b.post("/v1/orders/o1/cancel", headers=system)).status == 200
    await b.app[SERVICES].dispatcher.tick()
    assert in_flight(b.app, "reserved") == 0
    assert in_flight(a.app, "reserved") == 0  # not A's last value (1): max by zone would show 1
    registry = a.app[METRICS].registry
    assert registry.get_sample_value("flashdispatch_orders_at_risk", {"zone": "nanshan"}) == 0
