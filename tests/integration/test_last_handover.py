"""The round reads when each courier last handed an order over (its last route's closing)."""

from __future__ import annotations

from datetime import timedelta

from dispatch.postgres.database import create_pool
from dispatch.postgres.dispatch_state import PostgresDispatchState
from tests.conftest import T0


async def test_only_a_route_that_ended_in_a_handover_gives_the_courier_a_handover_time(db, database_url):
    await db.execute(
        "INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes,"
        " stock_version, created_at, updated_at) VALUES ('s1', 's1', 22.5, 113.9, 'z', 5, 20, 1, $1, $1)",
        T0,
    )
    await db.execute(
        "INSERT INTO couriers (courier_id, name, zone, capacity, on_shift, created_at, updated_at)"
        " SELECT c, c, 'z', 3, true, $1, $1 FROM unnest(ARRAY['done', 'abandoned', 'fresh', 'riding']) c",
        T0,
    )
    routes = [  # (courier, status, closed minutes after T0), in route_id order
        ("done", "abandoned", 1), ("done", "done", 2),  # the latest route ended at the door
        ("abandoned", "done", 1), ("abandoned", "abandoned", 3),  # the latest was handed back
        ("riding", "done", 4), ("riding", "active", None),
    ]
    for courier_id, status, minutes in routes:
        await db.execute(
            "INSERT INTO routes (courier_id, store_id, zone, status, created_at, depart_at, arrive_store_at,"
            " pickup_at, closed_at, plan) VALUES ($1, 's1', 'z', $2, $3, $3, $3, $3, $4, '{}')",
            courier_id, status, T0, None if minutes is None else T0 + timedelta(minutes=minutes),
        )  # fmt: skip
    async with await create_pool(database_url, max_size=2) as pool:
        rows = await PostgresDispatchState(pool).couriers(["z"])
    handed = {r.courier_id: r.last_handover_at for r in rows}
    assert handed == {"done": T0 + timedelta(minutes=2), "abandoned": None, "fresh": None,
                      "riding": T0 + timedelta(minutes=4)}
