"""Store status through real HTTP and PostgreSQL: paused takes no order, busy packs slower, and
both end by themselves at ``until`` on the service clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.keys import SERVICES
from tests.conftest import OPERATOR, make_token
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


async def set_status(client, store_id, headers=OPERATOR, **body):
    return await client.put(f"/v1/stores/{store_id}/status", json=body, headers=headers)


async def test_a_paused_store_takes_no_new_order_until_its_pause_ends(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "near", layout["near"], {"milk": 10})
    await add_store(client, road_network, "far", layout["far"], {"milk": 10})
    until = (clock.now() + timedelta(minutes=30)).isoformat()
    paused = await set_status(client, "near", status="paused", until=until, reason="staff shortage")
    assert paused.status == 200, await paused.text()
    assert (await paused.json())["status"]["state"] == "paused"
    placed = await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    assert (await placed.json())["store_id"] == "far"
    summary = await (await client.get("/v1/ops/summary", headers=OPERATOR)).json()
    assert [(s["store_id"], s["status"], s["reason"]) for s in summary["store_statuses"]] == [
        ("near", "paused", "staff shortage")]
    clock.advance(30 * 60)
    report = await client.app[SERVICES].dispatcher.tick()
    assert report.statuses_ended == ["near"]
    placed = await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    assert (await placed.json())["store_id"] == "near"
    audit = await db.fetch("SELECT actor_type, reason, body->>'status' AS status FROM operator_actions ORDER BY action_id")
    assert [tuple(r) for r in audit] == [("operator", "staff shortage", "paused"), ("system", "the status ended", "online")]


async def test_a_busy_store_packs_slower_by_its_extra_minutes(client, db, road_network, layout, system, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10}, pick_minutes=4)
    await client.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1), headers=system)
    placed_o1 = clock.now()
    clock.advance(60)
    store = await make_token(client, "store", store_id="s1")
    busy = await set_status(client, "s1", store, status="busy", extra_pick_minutes=6, reason="lunch rush")
    assert busy.status == 200, await busy.text()
    await client.post("/v1/orders", json=order("o2", road_network, layout["drop"], milk=1), headers=system)
    ready = {r["order_id"]: r["ready_at"] for r in await db.fetch("SELECT order_id, ready_at FROM orders")}
    assert ready["o1"] == placed_o1 + timedelta(minutes=4)
    assert ready["o2"] == clock.now() + timedelta(minutes=4 + 6)  # placed while busy: the extra minutes in
    # the round's engine sees o1 (placed before the rush) packed later by the extra minutes too
    from dispatch.round.inputs import engine_orders

    services = client.app[SERVICES]
    rows = await services.dispatcher.state.open_orders(["nanshan"])
    waiting = {o.order_id: o.ready_at for o in engine_orders(rows, services.keeper.current)}
    assert waiting["o1"] - placed_o1.timestamp() == (4 + 6) * 60  # slowed after it came in
    assert waiting["o2"] - clock.now().timestamp() == (4 + 6) * 60  # not slowed twice
    other = await make_token(client, "store", store_id="s2")
    assert (await set_status(client, "s1", other, status="online", reason="x")).status == 403
    metrics = await (await client.get("/metrics")).text()
    assert 'flashdispatch_operator_actions_total{action="store_status"} 1.0' in metrics


async def test_bad_store_status_bodies_change_nothing(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    for bad in ({"status": "closed", "reason": "r"}, {"status": "paused"}, {"status": "online", "reason": "r",
                "extra_pick_minutes": 5}, {"status": "busy", "extra_pick_minutes": 1e9, "reason": "r"},
                {"status": "paused", "reason": "r", "until": "2099-01-01T00:00:00Z"}):
        response = await set_status(client, "s1", **bad)
        assert response.status == 422 and (await response.json())["error"] == "invalid", bad
    assert (await set_status(client, "nope", status="paused", reason="r")).status == 404
    assert await db.fetchval("SELECT status FROM stores") == "online"
    assert await db.fetchval("SELECT count(*) FROM operator_actions") == 0
