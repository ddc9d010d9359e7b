"""Prepositioning of idle couriers toward expected demand."""

from __future__ import annotations

from dispatch.engine import plan_round
from dispatch.engine.reposition import plan_repositions
from tests.unit.engine.factories import POLICY, courier, order, travel

HOT = (2000.0, 0.0)


def test_plan_round_sends_an_idle_courier_toward_demand() -> None:
    plan = plan_round(
        orders=[], couriers=[courier("c1")], travel=travel, now=0.0, policy=POLICY,
        hotspots={HOT: 5.0},
    )
    assert [(m.courier_id, m.location) for m in plan.repositions] == [("c1", HOT)]


def test_plan_repositions_leaves_couriers_with_a_planned_route_alone() -> None:
    couriers = [courier("c1", at=(-1000.0, 0.0)), courier("c2", at=(-1000.0, 10.0))]
    plan = plan_round(
        orders=[order("a", ready=3000.0)], couriers=couriers, travel=travel, now=0.0,
        policy=POLICY, hotspots={HOT: 1.0},
    )
    (route,) = plan.routes
    assert not route.committed
    assert [m.courier_id for m in plan.repositions] != [route.courier_id]
    assert len(plan.repositions) == 1


def test_plan_repositions_spreads_couriers_by_weight_and_skips_short_moves() -> None:
    far = (-2000.0, 0.0)
    couriers = [courier(f"c{k}", at=HOT) for k in range(4)]
    moves = plan_repositions(
        couriers=couriers, routes=(), hotspots={HOT: 3.0, far: 1.0}, travel=travel,
        now=0.0, policy=POLICY,
    )
    assert [m.location for m in moves] == [far]  # three stay at HOT, one goes


def test_plan_repositions_ignores_busy_couriers_and_empty_hotspots() -> None:
    busy = [courier("c1", free=100.0)]
    assert plan_repositions(
        couriers=busy, routes=(), hotspots={HOT: 1.0}, travel=travel, now=0.0, policy=POLICY
    ) == ()
    assert plan_repositions(
        couriers=[courier("c1")], routes=(), hotspots={}, travel=travel, now=0.0, policy=POLICY
    ) == ()
