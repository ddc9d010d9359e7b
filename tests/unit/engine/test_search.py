"""Bundle choice by the cost of the whole tentative plan."""

from __future__ import annotations

from dataclasses import replace

from dispatch.engine.assignment import assign_bundles
from dispatch.engine.bundles import build_bundles
from dispatch.engine.search import plan_cost, search_bundles
from tests.unit.engine.factories import POLICY, courier, order, travel


def test_plan_cost_counts_click_to_door_and_lost_orders() -> None:
    orders = [order("a", to=(3000.0, 0.0)), order("b", to=(3000.0, 0.0), ready=900.0)]
    bundles = build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=1)
    assignments, leftover = assign_bundles(
        bundles, [courier("c1")], travel=travel, now=0.0, policy=POLICY
    )
    assert not leftover
    drops = [d for a in assignments for d in a.timing.dropoff_at]
    assert plan_cost(assignments, leftover, now=0.0, policy=POLICY) >= sum(drops)
    assert plan_cost([], bundles, now=0.0, policy=POLICY) == 2 * POLICY.lost_order_penalty_s


def test_search_merges_orders_the_bundler_keeps_apart_when_one_courier_serves_both() -> None:
    # The bundler refuses to delay a by 200 s; carried apart, b waits for the round trip.
    policy = replace(POLICY, bundle_max_delay_s=60.0)
    orders = [order("a", to=(3000.0, 0.0)), order("b", to=(3100.0, 0.0), ready=800.0)]
    separate = build_bundles(orders, travel=travel, now=0.0, policy=policy, target_size=2)
    assert [b.size for b in separate] == [1, 1]
    assignments, leftover = search_bundles(
        orders, [courier("c1")], travel=travel, now=0.0, policy=policy, target_size=2, largest=2
    )
    assert not leftover
    assert [tuple(o.order_id for o in a.bundle.orders) for a in assignments] == [("a", "b")]


def test_search_keeps_orders_apart_when_couriers_are_plentiful() -> None:
    orders = [order("a", to=(3000.0, 0.0)), order("b", to=(-3000.0, 0.0), ready=800.0)]
    assignments, _ = search_bundles(
        orders,
        [courier("c1"), courier("c2")],
        travel=travel,
        now=0.0,
        policy=POLICY,
        target_size=1,
        largest=3,
    )
    assert sorted(a.bundle.size for a in assignments) == [1, 1]


def test_starts_the_budget_cannot_evaluate_are_never_built(monkeypatch) -> None:
    import dispatch.engine.search as search

    built: list[int] = []
    real = search.build_bundles

    def counted(orders, **kwargs):
        built.append(kwargs["target_size"])
        return real(orders, **kwargs)

    monkeypatch.setattr(search, "build_bundles", counted)
    orders = [order(f"o{i:02d}", to=(3000.0 + 40 * i, 0.0), ready=60.0 * i) for i in range(30)]
    couriers = [courier("c1"), courier("c2")]

    def searched(budget: int) -> list[tuple[str, ...]]:
        built.clear()
        assignments, _ = search_bundles(
            orders, couriers, travel=travel, now=0.0, policy=replace(POLICY, search_budget=budget),
            target_size=2, largest=3,
        )
        return sorted(tuple(o.order_id for o in a.bundle.orders) for a in assignments)

    # 30 singles spend a budget of 30 at once: the sizes-2 and -3 starts cannot be evaluated
    unbundled = searched(30)
    assert built == [1]
    assert unbundled == sorted((o.order_id,) for o in orders)
    # with room for them, every start is built (and evaluated)
    searched(10_000)
    assert built[:3] == [1, 2, 3]
