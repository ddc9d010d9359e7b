"""Order intake against in-memory ports: store choice, the atomic reservation, refusals."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest

from dispatch.catalog.zones import ZoneModeKeeper
from dispatch.errors import OrderIdReused, OutOfStock
from dispatch.orders.events import Actor
from dispatch.orders.intake import Intake
from dispatch.orders.leg_planner import LegPlanner
from dispatch.orders.lifecycle import ActorType
from dispatch.orders.model import OrderRequest
from dispatch.round.outlook import LatestOutlook
from stores.stock_view import StockView
from tests.conftest import T0
from tests.unit.services.conftest import POLICY
from tests.unit.services.fakes import InMemoryOrders, InMemoryStock, RecordingObserver

ACTOR = Actor(ActorType.ORDER_SYSTEM, "t1")


def request(district, node, order_id="o1", digest="d1", **lines: int) -> OrderRequest:
    return OrderRequest(order_id=order_id, lines=tuple(sorted(lines.items())), drop_lat=float(district.lat[node]),
                        drop_lon=float(district.lon[node]), placed_at=None, digest=digest)


def intake_over(shelf: dict, keeper, load, *, believed: dict | None = None):
    stock = InMemoryStock(shelf)
    observer = RecordingObserver()
    view = StockView(believed if believed is not None else shelf)
    planner = LegPlanner(keeper=keeper, stock_view=view, load=load, zones=ZoneModeKeeper(), outlook=LatestOutlook(),
                         policy=POLICY, tz=ZoneInfo("Asia/Shanghai"))
    intake = Intake(orders=InMemoryOrders(stock), keeper=keeper, stock_view=view, load=load, metrics=observer,
                    policy=POLICY, batcher=stock, planner=planner)
    return intake, stock, view, observer


async def test_intake_skips_the_nearer_store_that_lacks_a_line(district, sites, keeper, load):
    intake, stock, view, observer = intake_over({"A": {"milk": 1}, "B": {"milk": 5}}, keeper, load)
    status, body = await intake.place(request(district, sites["drop"], milk=2), now=T0, actor=ACTOR)
    assert (status, body["store_id"], body["status"]) == (201, "B", "reserved")
    assert body["promised_by"] == "2026-11-23T03:30:00+00:00"
    assert stock.reserved["B"] == {"milk": 2} and stock.placed["o1"].actor == ACTOR
    assert view.available("B", "milk") == 3 and load.queued == {"B": 1}
    assert observer.calls == [("order_placed", ("z",))]


async def test_intake_takes_the_next_store_when_the_view_was_stale(district, sites, keeper, load):
    # the view believes A has milk; the shelf (the authority) has none left there
    intake, stock, view, observer = intake_over(
        {"A": {"milk": 0}, "B": {"milk": 5}}, keeper, load, believed={"A": {"milk": 5}, "B": {"milk": 5}})
    status, body = await intake.place(request(district, sites["drop"], milk=1), now=T0, actor=ACTOR)
    assert (status, body["store_id"]) == (201, "B")
    assert stock.calls == 2  # A first (nearest), lost, then B
    assert view.available("A", "milk") == 0  # corrected from the authority
    assert observer.named("reservation_failed") == [("race_lost",)]


async def test_intake_refuses_out_of_stock_and_writes_nothing(district, sites, keeper, load):
    intake, stock, _view, observer = intake_over({"A": {"milk": 1}, "B": {"milk": 1}}, keeper, load)
    with pytest.raises(OutOfStock) as refused:
        await intake.place(request(district, sites["drop"], milk=2), now=T0, actor=ACTOR)
    assert refused.value.extra()["lines"] == [{"sku": "milk", "requested": 2, "available": 1}]
    assert stock.placed == {} and stock.reserved == {"A": {}, "B": {}}
    assert observer.named("order_refused") == [("out_of_stock",)]


async def test_intake_shares_one_placement_among_concurrent_identical_requests(district, sites, keeper, load):
    intake, stock, _view, _observer = intake_over({"A": {"milk": 5}}, keeper, load)
    answers = await asyncio.gather(*(intake.place(request(district, sites["drop"], milk=1), now=T0, actor=ACTOR)
                                     for _ in range(5)))
    assert stock.calls == 1 and len({a[1]["store_id"] for a in answers}) == 1
    assert stock.reserved["A"] == {"milk": 1}


async def test_intake_refuses_an_order_id_reused_with_another_body(district, sites, keeper, load):
    intake, stock, _view, _observer = intake_over({"A": {"milk": 5}}, keeper, load)
    await intake.place(request(district, sites["drop"], milk=1), now=T0, actor=ACTOR)
    with pytest.raises(OrderIdReused):
        await intake.place(request(district, sites["drop"], digest="other", milk=2), now=T0, actor=ACTOR)
    assert stock.reserved["A"] == {"milk": 1}
