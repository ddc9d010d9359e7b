"""Order transitions after intake (cancel, and the SLA outcome they settle), with their metrics."""

from __future__ import annotations

from datetime import datetime

from dispatch.catalog.load import StoreLoad
from dispatch.orders.events import Actor
from dispatch.orders.model import Order
from dispatch.orders.ports import OrderObserver, OrderRecords
from stores.stock_view import StockView


class OrderFlow:
    def __init__(
        self,
        *,
        orders: OrderRecords,
        stock_view: StockView,
        load: StoreLoad,
        metrics: OrderObserver,
    ) -> None:
        self.orders = orders
        self.stock_view = stock_view
        self.load = load
        self.metrics = metrics

    async def cancel(self, order_id: str, *, now: datetime, actor: Actor, reason: str | None = None) -> Order:
        order, outcome, changed = await self.orders.cancel(order_id, now=now, actor=actor, reason=reason)
        if changed:
            for store_id, lines in order.store_lines():
                for sku, qty in lines:
                    self.stock_view.adjust(store_id, sku, qty)
                self.load.order_left(store_id)
        if outcome is not None:
            self.metrics.outcome(order.zone, outcome)
        return order
