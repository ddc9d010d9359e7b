"""Courier × bundle cost matrix and the wave assignment."""

from __future__ import annotations

from dispatch.engine.assignment import assign_bundles, cost_matrix
from dispatch.engine.bundles import build_bundles
from tests.unit.engine.factories import POLICY, courier, order, travel


def _bundles(orders, size=1):
    return build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=size)


def test_assign_bundles_gives_each_store_its_nearest_courier() -> None:
    bundles = _bundles(
        [
            order("a", store="s1", store_at=(0.0, 0.0)),
            order("b", store="s2", store_at=(5000.0, 0.0), to=(8000.0, 0.0)),
        ]
    )
    couriers = [courier("near_s2", at=(5100.0, 0.0)), courier("near_s1", at=(100.0, 0.0))]
    out, leftover = assign_bundles(bundles, couriers, travel=travel, now=0.0, policy=POLICY)
    assert not leftover
    got = {a.bundle.store_id: a.courier.courier_id for a in out}
    assert got == {"s1": "near_s1", "s2": "near_s2"}
    assert all(a.wave == 1 for a in out)


def test_assign_bundles_chains_leftover_bundles_in_later_waves() -> None:
    bundles = _bundles([order("a", ready=600.0), order("b", ready=610.0, to=(0.0, 3000.0))])
    out, leftover = assign_bundles(
        bundles, [courier("c1")], travel=travel, now=0.0, policy=POLICY
    )
    assert not leftover
    assert sorted(a.wave for a in out) == [1, 2]
    first, second = sorted(out, key=lambda a: a.wave)
    assert second.courier.free_at == first.timing.free_at
    assert second.timing.pickup_at >= first.timing.free_at


def test_cost_matrix_forbids_pickup_after_shift_end_and_over_capacity() -> None:
    bundles = _bundles(
        [order("a", ready=600.0), order("b", ready=600.0, to=(3100.0, 0.0))], size=2
    )
    assert bundles[0].size == 2
    couriers = [courier("ends", ends=500.0), courier("small", capacity=1), courier("ok")]
    _, feasible = cost_matrix(couriers, bundles, travel=travel, now=0.0, policy=POLICY)
    assert feasible[:, 0].tolist() == [False, False, True]


def test_cost_matrix_prefers_the_courier_that_is_on_time() -> None:
    bundles = _bundles([order("a", ready=300.0)])
    couriers = [courier("far", at=(9000.0, 0.0)), courier("near", at=(500.0, 0.0))]
    cost, _ = cost_matrix(couriers, bundles, travel=travel, now=0.0, policy=POLICY)
    assert cost[1, 0] < cost[0, 0]
