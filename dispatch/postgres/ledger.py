"""The books after a benchmark: every confirmed order is in the database and every reserved unit
belongs to an open order's line (nothing lost, nothing held for nobody)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from dispatch.orders.lifecycle import OrderStatus

# The statuses whose lines still hold their reservation (picked up: it became a sale).
HOLDING = (OrderStatus.RESERVED.value, OrderStatus.HELD.value, OrderStatus.ASSIGNED.value)


@dataclass(frozen=True, slots=True)
class Ledger:
    orders: int  # orders in the database
    missing: int  # confirmed order ids (201) not in the database
    reservation_mismatches: int  # (store, SKU) rows whose reserved units ≠ their open orders' lines

    def as_json(self) -> dict[str, int]:
        return {"orders_in_database": self.orders, "lost_orders": self.missing,
                "reservation_mismatches": self.reservation_mismatches}


async def read_ledger(database_url: str, *, confirmed: Sequence[str] = ()) -> Ledger:
    """Count the orders, the confirmed ids missing, and the stock rows whose reservation is off."""
    conn = await asyncpg.connect(database_url)
    try:
        orders = await conn.fetchval("SELECT count(*) FROM orders")
        found = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE order_id = ANY($1::text[])", list(confirmed)
        ) if confirmed else 0
        mismatches = await conn.fetchval(
            "SELECT count(*) FROM stock s LEFT JOIN ("
            "  SELECT o.store_id, l.sku, sum(l.quantity) AS held"
            "  FROM orders o JOIN order_lines l USING (order_id) WHERE o.status = ANY($1::text[])"
            "  GROUP BY 1, 2) o USING (store_id, sku)"
            " WHERE s.reserved <> coalesce(o.held, 0)",
            list(HOLDING),
        )
    finally:
        await conn.close()
    return Ledger(orders, len(set(confirmed)) - found, mismatches)
