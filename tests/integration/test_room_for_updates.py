"""A round's prediction update mostly leaves each order row on its page (migration 0010).

A row updated in place (a heap-only tuple) writes no index entry and a fraction of the WAL; a row
that must move to another page writes a new entry in every index of ``orders``. Where the row is
tells which happened: its ctid's block.
"""

from __future__ import annotations

from datetime import timedelta

from dispatch.postgres.database import create_pool
from dispatch.postgres.dispatch_state import PostgresDispatchState
from tests.conftest import T0
from tests.webhook_world import seed_orders

ORDERS = 600


async def _blocks(db) -> dict[str, int]:
    rows = await db.fetch("SELECT order_id, (ctid::text::point)[0]::int AS block FROM orders")
    return {r["order_id"]: r["block"] for r in rows}


async def test_the_orders_table_keeps_room_on_its_pages(db):
    options = await db.fetchval("SELECT reloptions FROM pg_class WHERE relname = 'orders'")
    assert options == ["fillfactor=70"]


async def test_rounds_of_predictions_mostly_update_rows_where_they_are(db, database_url):
    ids = [f"o{i:04d}" for i in range(ORDERS)]
    await seed_orders(db, ids, at=T0)
    # an answer as wide as intake's 201 (a row of a demo day is ~600 bytes)
    await db.execute("UPDATE orders SET response = jsonb_build_object('detail', repeat('x', 400))")
    await db.execute("VACUUM orders")
    stayed = []
    async with await create_pool(database_url, max_size=2) as pool:
        state = PostgresDispatchState(pool)
        for k in range(1, 4):
            before = await _blocks(db)
            at = T0 + timedelta(seconds=30 * k)
            assert await state.update_predictions(ids, [at] * ORDERS, now=T0) == 0  # < 1 min: no event
            after = await _blocks(db)
            stayed.append(sum(before[o] == after[o] for o in ids) / ORDERS)
    predicted = await db.fetch("SELECT DISTINCT predicted_delivery_at FROM orders")
    assert [r[0] for r in predicted] == [T0 + timedelta(seconds=90)]
    print("share of rows updated in place, rounds 1-3:", stayed)
    assert stayed[0] >= 0.25 and stayed[-1] >= 0.5, stayed
