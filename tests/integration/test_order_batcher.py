"""Group-committed placement against a real PostgreSQL: each order keeps its own result."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from dispatch.orders.events import Actor
from dispatch.orders.lifecycle import ActorType
from dispatch.orders.model import Placement
from dispatch.postgres.database import create_pool
from dispatch.postgres.order_batcher import OrderBatcher
from tests.conftest import T0


@pytest.fixture
async def pool(db, database_url):
    await db.execute(
        "INSERT INTO stores (store_id, name, lat, lon, zone, pick_minutes, radius_minutes,"
        " stock_version, created_at, updated_at) VALUES"
        " ('s1', 's1', 22.5, 113.9, 'z', 5, 20, 1, $1, $1), ('s2', 's2', 22.5, 113.9, 'z', 5, 20, 1, $1, $1)",
        T0,
    )
    await db.execute(
        "INSERT INTO stock (store_id, sku, on_hand) VALUES"
        " ('s1', 'milk', 10), ('s1', 'eggs', 3), ('s2', 'milk', 5), ('s2', 'eggs', 100)"
    )
    async with await create_pool(database_url, max_size=4) as pool:
        yield pool


def placement(order_id: str, store_id: str = "s1", digest: str = "d", **lines: int) -> Placement:
    return Placement(
        order_id=order_id, digest=digest, store_id=store_id, zone="z",
        lines=tuple(sorted(lines.items())), drop_lat=22.5, drop_lon=113.9, drop_node=1,
        placed_at=T0, promised_by=T0 + timedelta(minutes=30),
        predicted_delivery_at=T0 + timedelta(minutes=20), ready_at=T0 + timedelta(minutes=5),
        response={"order_id": order_id, "store_id": store_id},
        actor=Actor(ActorType.ORDER_SYSTEM, "t1"), occurred_at=T0,
    )


async def test_order_batcher_gives_each_order_its_own_result(pool, db):
    batcher = OrderBatcher(pool)
    results = await asyncio.gather(
        batcher.place(placement("a", eggs=2)),
        batcher.place(placement("b", eggs=2)),  # only 1 egg left after "a": race lost
        batcher.place(placement("c", "s2", milk=5, eggs=1)),
        batcher.place(placement("d", milk=1)),
    )
    assert [r.kind for r in results] == ["placed", "race_lost", "placed", "placed"]
    assert results[2].response == {"order_id": "c", "store_id": "s2"}
    assert batcher.batches >= 1 and batcher.orders == 4
    stock = {(r["store_id"], r["sku"]): r["reserved"] for r in await db.fetch("SELECT * FROM stock")}
    assert stock == {("s1", "milk"): 1, ("s1", "eggs"): 2, ("s2", "milk"): 5, ("s2", "eggs"): 1}
    assert await db.fetchval("SELECT count(*) FROM orders") == 3
    assert await db.fetchval("SELECT count(*) FROM orders WHERE order_id = 'b'") == 0
    assert await db.fetchval("SELECT count(*) FROM order_lines WHERE order_id = 'b'") == 0


async def test_order_batcher_answers_exists_with_the_first_digest(pool, db):
    batcher = OrderBatcher(pool)
    first = await batcher.place(placement("a", digest="one", milk=1))
    again = await asyncio.gather(
        batcher.place(placement("a", digest="two", milk=1)), batcher.place(placement("x", milk=1))
    )
    assert first.kind == "placed"
    assert again[0].kind == "exists" and again[0].digest == "one"
    assert again[1].kind == "placed"
    assert await db.fetchval("SELECT reserved FROM stock WHERE store_id = 's1' AND sku = 'milk'") == 2


async def test_order_batcher_sells_the_last_units_exactly_once_under_contention(pool, db):
    batcher = OrderBatcher(pool, max_batch=8)
    results = await asyncio.gather(*(batcher.place(placement(f"o{i}", eggs=1)) for i in range(40)))
    assert sum(r.kind == "placed" for r in results) == 3
    assert batcher.batches > 1  # several batches were needed and none deadlocked
    assert await db.fetchval("SELECT reserved FROM stock WHERE store_id = 's1' AND sku = 'eggs'") == 3


async def test_order_batcher_settles_a_failing_batch_order_by_order(pool, db):
    batcher = OrderBatcher(pool)
    results = await asyncio.gather(
        batcher.place(placement("good", milk=1)),
        batcher.place(placement("bad", "no-such-store", milk=1)),
        return_exceptions=True,
    )
    assert results[0].kind == "placed"
    assert isinstance(results[1], Exception)
    assert await db.fetchval("SELECT count(*) FROM orders") == 1


async def test_order_batcher_rejects_batches_past_the_subtransaction_cache(pool):
    with pytest.raises(ValueError):
        OrderBatcher(pool, max_batch=100)
