"""The honest promise through real HTTP and PostgreSQL: intake predicts on the round's courier
outlook, a burst sees the queue it makes, and the zone's on_overload decides past the promise."""

from __future__ import annotations

from datetime import datetime

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_dispatch_flow import add_courier
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def place(client, system, network, node, order_id):
    response = await client.post("/v1/orders", json=order(order_id, network, node, milk=1), headers=system)
    return response.status, await response.json()


async def test_one_courier_a_burst_of_orders_and_the_three_answers_to_overload(client, db, road_network, layout, system):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 50})
    await add_courier(client, road_network, "c1", layout["near"])
    await client.app[SERVICES].dispatcher.tick()  # publishes the outlook intake predicts on
    await client.put("/v1/zones/nanshan/mode", json={"on_overload": "refuse", "reason": "one courier"},
                     headers=OPERATOR)
    predicted, refused = [], None
    for i in range(10):
        status, body = await place(client, system, road_network, layout["drop"], f"o{i}")
        if status == 409:
            refused = body
            break
        assert status == 201
        predicted.append(datetime.fromisoformat(body["predicted_delivery_at"]))
        assert predicted[-1] <= datetime.fromisoformat(body["promised_by"])
    # each order waits for the one courier's previous trip: the queue shows in the predictions
    assert len(predicted) >= 2 and predicted == sorted(predicted) and len(set(predicted)) == len(predicted)
    assert refused is not None and refused["error"] == "over_capacity" and refused["zone"] == "nanshan"
    refused_id = f"o{len(predicted)}"
    assert await db.fetchval("SELECT count(*) FROM orders WHERE order_id = $1", refused_id) == 0
    assert await db.fetchval("SELECT reserved FROM stock") == len(predicted)

    await client.put("/v1/zones/nanshan/mode", json={"on_overload": "extend", "reason": "one courier"},
                     headers=OPERATOR)
    status, extended = await place(client, system, road_network, layout["drop"], "x1")
    assert status == 201 and extended["promise_extension_minutes"] >= 1
    assert datetime.fromisoformat(extended["predicted_delivery_at"]) <= datetime.fromisoformat(extended["promised_by"])
    assert await db.fetchval("SELECT promise_extension_minutes FROM orders WHERE order_id = 'x1'") == (
        extended["promise_extension_minutes"])

    await client.delete("/v1/zones/nanshan/mode", headers=OPERATOR)  # back to accept
    status, flagged = await place(client, system, road_network, layout["drop"], "a1")
    assert status == 201 and flagged["predicted_late"] is True and "promise_extension_minutes" not in flagged
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_orders_promise_extended_total{zone="nanshan"} 1.0' in metrics
    assert 'flashdispatch_order_rejections_total{reason="over_capacity"} 1.0' in metrics
