"""Issue 11, item 8, end to end: an order whose promise is decades away (one that got in before
placed_at was bounded) may not stall another order's dispatch.

The engine unit test (tests/unit/engine/test_stall.py) reproduces the stall itself and fails on
the engine before the fix; this test holds the whole service to the outcome: the at-risk order
leaves with the idle courier in the first round, whatever else is open."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def test_an_order_promised_for_2099_does_not_keep_the_idle_courier_from_an_at_risk_order(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    courier = await add_courier(client, road_network, "c1", layout["near"])
    for order_id in ("far-future", "at-risk"):
        assert (await client.post("/v1/orders", json=order(order_id, road_network, layout["drop"], milk=1),
                                  headers=system)).status == 201
    # the first order as it was before the bound: placed and promised in 2099
    future = datetime(2099, 1, 1, 3, 0, tzinfo=clock.now().tzinfo)
    await db.execute("UPDATE orders SET placed_at = $1, promised_by = $2 WHERE order_id = 'far-future'",
                     future, future + timedelta(minutes=30))
    clock.advance(25 * 60)  # the other order is packed and close to its promise
    store = await make_token(client, "store", store_id="s1")
    assert (await client.post("/v1/stores/s1/orders/at-risk/packed", headers=store)).status == 200
    here = {**point(road_network, layout["near"]), "at": clock.now().isoformat()}
    await client.post("/v1/couriers/c1/positions", json={"positions": [here]}, headers=courier)  # still there
    report = await client.app[SERVICES].dispatcher.tick()
    assert [courier_id for courier_id, ids in report.committed if "at-risk" in ids] == ["c1"]
    got = await (await client.get("/v1/orders/at-risk", headers=OPERATOR)).json()
    assert (got["status"], got["courier_id"]) == ("assigned", "c1")
