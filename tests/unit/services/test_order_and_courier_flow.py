"""Cancellation and the courier's task events against in-memory ports: stock, load and the SLA."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.couriers.flow import CourierFlow
from dispatch.couriers.model import Delivery
from dispatch.errors import NotCancellable
from dispatch.orders.events import Actor
from dispatch.orders.flow import OrderFlow
from dispatch.orders.lifecycle import ActorType, OrderStatus
from dispatch.orders.model import Order
from stores.stock_view import StockView
from tests.conftest import T0
from tests.unit.services.conftest import POLICY
from tests.unit.services.fakes import InMemoryCouriers, InMemoryOrders, InMemoryStock, RecordingObserver

OPERATOR = Actor(ActorType.OPERATOR, "t9")


def an_order(status: OrderStatus, **lines: int) -> Order:
    return Order(order_id="o1", status=status, store_id="A", zone="z", courier_id=None, route_id=None,
                 drop_lat=None, drop_lon=None, drop_node=1, placed_at=T0, promised_by=T0 + timedelta(minutes=30),
                 predicted_delivery_at=T0, ready_at=T0, packed_at=None, picked_up_at=None, delivered_at=None,
                 outcome=None, failure_reason=None, lines=tuple(sorted(lines.items())))


def flow_over(order: Order, load):
    stock = InMemoryStock({"A": {"milk": 5}})
    stock.reserved["A"] = dict(order.lines)
    orders = InMemoryOrders(stock, {order.order_id: order})
    view = StockView({"A": {"milk": 5 - dict(order.lines).get("milk", 0)}})
    load.order_reserved("A")
    observer = RecordingObserver()
    return OrderFlow(orders=orders, stock_view=view, load=load, metrics=observer), stock, view, observer


async def test_cancel_gives_the_stock_back_once_and_settles_the_outcome(load):
    flow, stock, view, observer = flow_over(an_order(OrderStatus.RESERVED, milk=2), load)
    order = await flow.cancel("o1", now=T0, actor=OPERATOR)
    assert order.status is OrderStatus.CANCELLED
    assert stock.reserved["A"] == {"milk": 0} and view.available("A", "milk") == 5 and load.queued == {"A": 0}
    assert observer.calls == [("outcome", ("z", "cancelled"))]
    await flow.cancel("o1", now=T0, actor=OPERATOR)  # again: nothing moves twice
    assert view.available("A", "milk") == 5 and len(observer.calls) == 1


async def test_cancel_after_pickup_is_refused_and_changes_nothing(load):
    flow, stock, view, observer = flow_over(an_order(OrderStatus.PICKED_UP, milk=2), load)
    with pytest.raises(NotCancellable, match="picked_up"):
        await flow.cancel("o1", now=T0, actor=OPERATOR)
    assert stock.reserved["A"] == {"milk": 2} and view.available("A", "milk") == 3 and observer.calls == []


def courier_flow(district, keeper, load, couriers: InMemoryCouriers):
    observer = RecordingObserver()
    return CourierFlow(couriers=couriers, network=district, load=load, metrics=observer, policy=POLICY,
                       keeper=keeper), observer


async def test_a_shift_without_an_end_lasts_the_policys_default(district, keeper, load):
    couriers = InMemoryCouriers()
    flow, observer = courier_flow(district, keeper, load, couriers)
    await flow.register("c1", name="c1", zone="z", capacity=3, now=T0)
    await flow.shift("c1", on=True, lat=22.5, lon=113.9, ends_at=None, now=T0)
    assert couriers.shifts == [("c1", True, T0 + timedelta(seconds=POLICY.default_shift_s))]
    assert observer.calls == [("ensure_zone", ("z",))]


async def test_delivery_is_timed_once_and_its_outcome_counted_once(district, keeper, load):
    couriers = InMemoryCouriers(delivered_answer=Delivery("z", T0, T0 + timedelta(minutes=18), "on_time", True))
    flow, observer = courier_flow(district, keeper, load, couriers)
    answer = await flow.event("c1", "o1", "delivered", now=T0 + timedelta(minutes=21))
    assert answer == {"order_id": "o1", "status": "delivered"}
    assert observer.calls == [("delivered", ("z", 21 * 60.0)), ("promise_error_observed", ("z", 3 * 60.0)),
                              ("outcome", ("z", "on_time"))]
    couriers.delivered_answer = Delivery("z", T0, T0, None, False)  # a repeated delivery
    await flow.event("c1", "o1", "delivered", now=T0 + timedelta(minutes=22))
    assert len(observer.calls) == 3
