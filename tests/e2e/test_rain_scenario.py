"""The rain scenario's actors through real HTTP and PostgreSQL: the operator at the console pulls
the overload lever in the zone whose 30-minute on-time share (as the ops summary reports it) fell
under 95%, and only there; a shop that falls behind goes busy with its own token."""

from __future__ import annotations

import argparse
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import numpy as np
import pytest

from dispatch.cli import main
from dispatch.keys import SERVICES
from dispatch.sim.api_client import ApiClient
from dispatch.sim.city import DemoConfig, OrderPlan, ShopPlan
from dispatch.sim.demo import run_demo
from dispatch.sim.events import EventQueue
from dispatch.sim.ops_console import OpsConsole, Switch
from dispatch.sim.order_system import OrderRecord
from dispatch.sim.scenario import RainDay
from dispatch.sim.shops import Shops
from dispatch.sim.weather import rain_between
from tests.conftest import OPERATOR, T0, make_token
from tests.e2e.test_demo import demo_settings  # noqa: F401  (fixture)
from tests.e2e.test_dispatch_flow import add_courier, tick_until_assigned
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)


@pytest.fixture
async def system(client):
    return await make_token(client, "order_system")


def api_of(client) -> ApiClient:
    """The demo's own HTTP client, pointed at the test's service on 127.0.0.1."""
    return ApiClient(session=client.session, base_url=str(client.make_url("")), operator=OPERATOR)


async def summary_of(client) -> dict:
    response = await client.get("/v1/ops/summary", headers=OPERATOR)
    assert response.status == 200, await response.text()
    return await response.json()


async def one_zone_on_time_one_zone_late(client, road_network, layout, system, clock) -> None:  # noqa: F811
    """nanshan: one order delivered on time; futian (no courier there): one order past its promise."""
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_store(client, road_network, "s2", layout["near"], {"bread": 10}, zone="futian")
    courier = await add_courier(client, road_network, "c1", layout["near"])
    for order_id, sku in (("o1", "milk"), ("o2", "bread")):
        placed = await client.post("/v1/orders", json=order(order_id, road_network, layout["drop"], **{sku: 1}),
                                   headers=system)
        assert placed.status == 201, await placed.text()
    await tick_until_assigned(client, clock, ["o1"])
    clock.advance(20 * 60)
    store = await make_token(client, "store", store_id="s1")
    assert (await client.post("/v1/stores/s1/orders/o1/packed", headers=store)).status == 200
    for kind in ("arrived_store", "picked_up", "delivered"):
        sent = await client.post("/v1/couriers/c1/events", json={"order_id": "o1", "type": kind}, headers=courier)
        assert sent.status == 200, await sent.text()
        clock.advance(60)
    clock.set(T0 + timedelta(minutes=31))
    await client.app[SERVICES].dispatcher.tick()  # the sweeper finds o2 past its promise


async def test_operator_switches_only_the_zone_under_95_percent_to_extend(client, db, road_network, layout, system, clock):  # noqa: F811
    await one_zone_on_time_one_zone_late(client, road_network, layout, system, clock)
    zones = (await summary_of(client))["zones"]
    assert zones["nanshan"]["on_time_share_30m"] == 1.0 and zones["futian"]["on_time_share_30m"] == 0.0

    console = OpsConsole(api=api_of(client), lever="extend")
    until = (clock.now() + timedelta(hours=1)).isoformat()
    assert await console.look(now_s=1860.0, until_iso=until) == [Switch(1860.0, "futian", 0.0, "extend")]
    modes = (await summary_of(client))["zone_modes"]
    assert [(m["zone"], m["on_overload"]) for m in modes] == [("futian", "extend")]
    assert "30 min 0.0% (< 95%)" in modes[0]["reason"]
    actions = await db.fetch("SELECT action, actor_type FROM operator_actions ORDER BY action_id")
    assert [(a["action"], a["actor_type"]) for a in actions] == [("zone_mode", "operator")]
    # the zone is in the mode now: the next glance leaves it alone
    assert await console.look(now_s=2160.0, until_iso=until) == []
    assert await db.fetchval("SELECT count(*) FROM operator_actions") == 1
    assert modes[0]["until"] == until

async def test_a_watching_operator_notes_the_moment_and_changes_nothing(client, db, road_network, layout, system, clock):  # noqa: F811
    await one_zone_on_time_one_zone_late(client, road_network, layout, system, clock)
    console = OpsConsole(api=api_of(client), lever=None)
    until = (clock.now() + timedelta(hours=1)).isoformat()
    assert await console.look(now_s=1860.0, until_iso=until) == [Switch(1860.0, "futian", 0.0, None)]
    assert await console.look(now_s=2160.0, until_iso=until) == []  # noted once
    assert {(r.zone, r.share) for r in console.readings} == {("nanshan", 1.0), ("futian", 0.0)}
    assert await db.fetchval("SELECT count(*) FROM zone_modes") == 0
    assert await db.fetchval("SELECT count(*) FROM operator_actions") == 0


async def test_the_busiest_shop_goes_busy_with_its_own_token_and_packs_slower(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_store(client, road_network, "s2", layout["near"], {"bread": 10})
    config = DemoConfig(stores=2, couriers=1, start=T0.replace(tzinfo=None))
    events = EventQueue(config=config, clock=clock)
    plans = [ShopPlan(s, s, int(layout["near"]), 0.0, 0.0, "nanshan", 4.0, {}) for s in ("s1", "s2")]
    shops = Shops(shops=plans, config=config, api=api_of(client), events=events, rng=np.random.default_rng(1))
    shops.headers = {s: await make_token(client, "store", store_id=s) for s in ("s1", "s2")}
    shops.orders_taken.update({"s1": 1, "s2": 5})
    shops.schedule_rush(at_s=600.0, until_s=3600.0, stores=1, extra_pick_minutes=10.0)
    t_s, go_busy = events.pop()
    events.advance_to(t_s)
    await go_busy()
    statuses = (await summary_of(client))["store_statuses"]
    assert [(s["store_id"], s["status"], s["extra_pick_minutes"]) for s in statuses] == [("s2", "busy", 10.0)]
    actor = await db.fetchrow("SELECT actor_type, actor_id FROM operator_actions")
    assert (actor["actor_type"], actor["actor_id"]) == ("store", "s2")
    # the shop itself is slower too, until the rain stops
    record = OrderRecord(OrderPlan("o1", 600.0, (("bread", 1),), 0.0, 0.0, None), status=201, store_id="s2")
    record.add_leg("o1", "s2", {"bread": 1})
    shops.start_packing(record, "o1")
    assert record.packed_s == 600.0 + (4.0 + 10.0) * 60.0


async def test_a_small_rainy_day_plays_through_the_api_with_the_operator_watching(demo_settings, tmp_path):  # noqa: F811
    """The whole rain day in miniature: a shower 10 minutes in, two shops busy, the operator's lever."""
    day = RainDay(weather=rain_between(5, 30), busy_after_min=2, lever="extend")
    args = argparse.Namespace(stores=8, couriers=8, minutes=60, speed=0.0, seed=11, out=tmp_path, port=0)
    figures: dict = {}
    try:
        code = await run_demo(demo_settings, args, database="fd_test_demo_rain", figures_out=figures, rain=day)
        conn = await asyncpg.connect(urlunsplit(urlsplit(demo_settings.database_url)._replace(path="/fd_test_demo_rain")))
        try:
            busy = await conn.fetch("SELECT target, actor_type, actor_id, body->>'status' AS status"
                                    " FROM operator_actions WHERE action = 'store_status' ORDER BY action_id")
            modes = await conn.fetch("SELECT target, body FROM operator_actions WHERE action = 'zone_mode'")
        finally:
            await conn.close()
    finally:
        admin = await asyncpg.connect(demo_settings.database_url)
        await admin.execute('DROP DATABASE IF EXISTS "fd_test_demo_rain" WITH (FORCE)')
        await admin.close()
    assert code in (0, 3) and figures["all_accounted"], figures
    assert figures["rain"]["lever"] == "extend" and len(figures["rain"]["busy_stores"]) == 2
    # the two shops said so themselves, with their own tokens; the round ended it when the rain did
    went_busy = sorted((b["target"], b["actor_type"], b["actor_id"]) for b in busy if b["status"] == "busy")
    assert went_busy == [(s, "store", s) for s in figures["rain"]["busy_stores"]]
    back = sorted((b["target"], b["actor_type"]) for b in busy if b["status"] == "online")
    assert back == [(s, "system") for s in figures["rain"]["busy_stores"]]
    # the operator read the summary every five minutes and switched each zone at its first reading
    # under 95% (once: the mode it set lasts the hour)
    assert all(t % 5 == 0 for t, _, _ in figures["operator_readings"])
    first_under: dict[str, float] = {}
    for t, zone, share in figures["operator_readings"]:
        if share < 0.95:
            first_under.setdefault(zone, t)
    switched = {(t, zone) for t, zone, _, _ in figures["operator_switches"]}
    assert switched and switched == {(t, zone) for zone, t in first_under.items()}
    assert all(lever == "extend" for *_, lever in figures["operator_switches"])
    assert len(modes) == len(switched)
    assert figures["rain_orders_placed"] > 0 and figures["rain_on_time_vs_30min"] is not None


def test_demo_scenario_rain_refuses_on_overload_since_its_operator_sets_the_modes(monkeypatch, capsys, tmp_path):
    """--scenario rain sets the zone modes itself (the operator does): --on-overload is a mistake, and
    nothing is played or written."""
    monkeypatch.setenv("FLASHDISPATCH_HOME", str(tmp_path))
    out = tmp_path / "report"
    assert main(["demo", "--scenario", "rain", "--on-overload", "extend", "--out", str(out)]) == 2
    assert "leave out --on-overload" in capsys.readouterr().err and not out.exists()
