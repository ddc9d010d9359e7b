"""One dispatch round end to end: commitment, no dropped order, capacity, priority, purity."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from dispatch.engine import EngineError, EnginePolicy, plan_round
from tests.unit.engine.factories import POLICY, courier, order, travel


def _plan(orders, couriers, now=0.0, policy=POLICY):
    return plan_round(orders=orders, couriers=couriers, travel=travel, now=now, policy=policy)


def test_plan_round_commits_only_when_the_courier_must_leave_now() -> None:
    # The store is 100 s away and the order is ready at 600 s: leave by 440 s.
    orders = [order("a", ready=600.0)]
    couriers = [courier("c1", at=(500.0, 0.0))]
    early = _plan(orders, couriers, now=0.0)
    assert [r.committed for r in early.routes] == [False]
    assert early.routes[0].pickup_at == 600.0
    due = _plan(orders, couriers, now=438.0)
    (route,) = due.routes
    assert route.committed
    assert route.depart_at == 438.0
    assert route.pickup_at == 600.0


def test_plan_round_never_commits_a_busy_courier() -> None:
    plan = _plan([order("a", ready=0.0)], [courier("c1", free=300.0)], now=0.0)
    (route,) = plan.routes
    assert not route.committed
    assert route.depart_at >= 300.0


def test_plan_round_serves_a_late_order_late_rather_than_dropping_it() -> None:
    late = order("a", placed=0.0, ready=100.0, promise=200.0)
    plan = _plan([late], [courier("c1", at=(9000.0, 0.0))], now=150.0)
    (route,) = plan.routes
    assert route.order_ids == ("a",)
    assert route.committed
    assert route.dropoff_at[0] > late.promised_by
    assert plan.unassigned == ()


def test_plan_round_gives_every_open_order_a_route_when_couriers_are_short() -> None:
    orders = [order(f"o{k}", store=f"s{k}", store_at=(1000.0 * k, 0.0)) for k in range(6)]
    plan = _plan(orders, [courier("c1"), courier("c2")])
    routed = sorted(o for r in plan.routes for o in r.order_ids)
    assert routed == sorted(o.order_id for o in orders)


def test_plan_round_reports_orders_no_courier_can_pick_up_in_its_shift() -> None:
    plan = _plan([order("a", ready=5000.0)], [courier("c1", ends=1000.0)])
    assert plan.routes == ()
    assert plan.unassigned == ("a",)


def test_plan_round_respects_courier_capacity() -> None:
    orders = [order(f"o{k}", to=(3000.0 + 10 * k, 0.0)) for k in range(6)]
    plan = _plan(orders, [courier("c1", capacity=2)])
    assert plan.routes
    assert max(len(r.order_ids) for r in plan.routes) <= 2
    assert sorted(o for r in plan.routes for o in r.order_ids) == [f"o{k}" for k in range(6)]


def test_plan_round_serves_the_order_that_waited_longest_first() -> None:
    # One courier carrying one order at a time; the young order is nearer, the old one waited.
    policy = dataclasses.replace(POLICY, max_bundle_size=1)
    young = order("a_young", placed=990.0, ready=1000.0, to=(0.0, 2500.0), promise=1e6)
    old = order("b_old", placed=0.0, ready=1000.0, to=(3000.0, 0.0), promise=1e6)
    plan = _plan([young, old], [courier("c1")], now=1000.0, policy=policy)
    first = min(plan.routes, key=lambda r: r.pickup_at)
    assert first.order_ids == ("b_old",)
    assert first.committed


def test_plan_round_is_deterministic_and_ignores_input_order() -> None:
    orders = [
        order(f"o{k}", store=f"s{k % 3}", store_at=(700.0 * (k % 3), 0.0),
              to=(300.0 * k, 200.0 * k), ready=60.0 * k)
        for k in range(9)
    ]
    couriers = [courier(f"c{k}", at=(400.0 * k, 100.0)) for k in range(3)]
    a = _plan(orders, couriers, now=10.0)
    b = _plan(list(reversed(orders)), list(reversed(couriers)), now=10.0)
    assert a == b
    assert a == _plan(orders, couriers, now=10.0)


def test_plan_round_rejects_duplicate_ids() -> None:
    with pytest.raises(EngineError):
        _plan([order("a"), order("a")], [courier("c1")])


def test_engine_policy_validates_itself() -> None:
    with pytest.raises(EngineError):
        EnginePolicy(round_interval_s=0.0)
    with pytest.raises(EngineError):
        EnginePolicy(lateness_weight=-1.0)
    with pytest.raises(EngineError):
        EnginePolicy(max_bundle_size=0)


def test_engine_imports_no_io_library() -> None:
    forbidden = {"aiohttp", "asyncpg", "prometheus_client", "os", "time", "random", "datetime"}
    engine = Path(__file__).resolve().parents[3] / "dispatch" / "engine"
    for path in engine.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
