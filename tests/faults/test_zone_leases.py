"""Two and three dispatcher processes on one database: every zone dispatched by exactly one
process at a time (PostgreSQL advisory-lock leases); kill the owner and another takes its zones
over within seconds; no order is ever assigned twice."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from dispatch.postgres.zone_lease import LOCK_CLASS
from tests.e2e.test_orders_api import layout, point  # noqa: F401  (fixture)
from tests.faults.conftest import OPERATOR, until
from tests.faults.world import call, check_invariants, storm, token

ZONES = ("z0", "z1", "z2")
# The README: "killing the owner (another takes the zone over in under a second ...)". The dead
# owner's connection, and its advisory locks, go at once; a survivor claims free zones at the
# start of each round, every INTERVAL_S.
TAKEOVER_S = 1.0
INTERVAL_S = 0.3


async def holders(db) -> dict[str, list[int]]:
    """zone -> operating-system pids of the service processes holding its lease."""
    rows = await db.fetch(
        "SELECT z.zone, a.application_name FROM unnest($1::text[]) AS z(zone)"
        " JOIN pg_locks l ON l.locktype = 'advisory' AND l.granted AND l.classid = $2"
        "  AND l.objid = (hashtext(z.zone)::bigint & 4294967295)::oid"
        " JOIN pg_stat_activity a ON a.pid = l.pid",
        list(ZONES), LOCK_CLASS,
    )
    out: dict[str, list[int]] = {zone: [] for zone in ZONES}
    for r in rows:
        out[r["zone"]].append(int(r["application_name"].rsplit("-", 1)[1]))
    return out


async def setup_zones(base: str, network, layout) -> tuple[dict, dict]:  # noqa: F811
    couriers: dict[str, dict] = {}
    async with aiohttp.ClientSession() as session:
        for zone in ZONES:
            store_id = f"s-{zone}"
            status, body = await call(session, "PUT", f"{base}/v1/stores/{store_id}", headers=OPERATOR,
                                      json={"name": store_id, "location": point(network, layout["near"]), "zone": zone})
            assert status in (200, 201), body
            status, body = await call(session, "PUT", f"{base}/v1/stores/{store_id}/stock", headers=OPERATOR,
                                      json={"version": 1, "items": [{"sku": f"milk-{zone}", "quantity": 1000}]})
            assert status == 200, body
            for i in range(4):
                courier_id = f"{zone}-c{i}"
                status, body = await call(session, "PUT", f"{base}/v1/couriers/{courier_id}", headers=OPERATOR,
                                          json={"name": courier_id, "zone": zone, "capacity": 2})
                assert status in (200, 201), body
                couriers[courier_id] = await token(session, base, "courier", courier_id=courier_id)
                status, body = await call(session, "POST", f"{base}/v1/couriers/{courier_id}/shift",
                                          headers=couriers[courier_id],
                                          json={"state": "on", "position": point(network, layout["far"])})
                assert status == 200, body
        system = await token(session, base, "order_system")
    return system, couriers


def zone_orders(prefix: str, network, node, n: int) -> list[dict]:
    return [{"order_id": f"{prefix}-{zone}-{i}", "items": [{"sku": f"milk-{zone}", "quantity": 1}],
             "drop_off": point(network, node)} for zone in ZONES for i in range(n)]


async def place_and_pack(base: str, bodies: list[dict], system: dict) -> None:
    answers: dict[str, tuple[int, dict]] = {}
    await storm(base, bodies, system, answers=answers, concurrency=8)
    assert {s for s, _ in answers.values()} == {201}, answers
    # the store ids differ by zone; pack each order at its store
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            zone = body["order_id"].split("-")[1]
            status, got = await call(session, "POST", f"{base}/v1/stores/s-{zone}/orders/{body['order_id']}/packed",
                                     headers=OPERATOR)
            assert status == 200, got


@pytest.mark.parametrize("dispatchers", [2, 3])
async def test_each_zone_has_one_dispatcher_and_survives_its_death(spawn, db, road_network, layout, dispatchers):  # noqa: F811
    api = spawn(name="api", role="api")
    procs = [spawn(name=f"d{i}", role="dispatcher", interval_s=INTERVAL_S) for i in range(dispatchers)]
    await asyncio.gather(api.wait_ready(), *(p.wait_ready() for p in procs))
    system, _ = await setup_zones(api.url, road_network, layout)
    by_pid = {p.proc.pid: p for p in procs}

    async def all_leased():
        got = await holders(db)
        return got if all(len(v) == 1 for v in got.values()) else None

    owners = await until(all_leased, timeout_s=15, what="every zone leased")
    assert set(pid for v in owners.values() for pid in v) <= set(by_pid)

    await place_and_pack(api.url, zone_orders("a", road_network, layout["drop"], 2), system)
    await until(lambda: _assigned(db, 6), timeout_s=20, what="first orders assigned")

    victim = by_pid[owners["z0"][0]]
    lost = [zone for zone, v in owners.items() if v == [victim.proc.pid]]
    killed_at = time.monotonic()  # from before the kill: the bound covers the kill itself
    victim.kill()
    survivors = {pid for pid, p in by_pid.items() if p is not victim}

    async def taken_over():
        got = await holders(db)
        return got if all(len(v) == 1 and v[0] in survivors for v in got.values()) else None

    after = await until(taken_over, timeout_s=TAKEOVER_S + 5, interval_s=0.05, what="zones taken over")
    takeover_s = time.monotonic() - killed_at
    assert takeover_s < TAKEOVER_S, f"takeover of {lost} took {takeover_s:.1f} s"

    await place_and_pack(api.url, zone_orders("b", road_network, layout["drop"], 2), system)
    await until(lambda: _assigned(db, 12), timeout_s=20, what="orders after the takeover assigned")
    # one holder per zone at every sample, and nothing assigned twice
    for _ in range(10):
        assert all(len(v) == 1 for v in (await holders(db)).values())
        await asyncio.sleep(0.05)
    twice = await db.fetch("SELECT order_id FROM order_events WHERE type = 'order.assigned'"
                           " GROUP BY order_id HAVING count(*) > 1")
    assert not twice, twice
    await check_invariants(db)
    print(f"{dispatchers} dispatchers: owners {owners}, after kill {after}, takeover {takeover_s:.2f} s")


async def _assigned(db, n: int) -> bool:
    return await db.fetchval("SELECT count(*) FROM orders WHERE status = 'assigned'") >= n
