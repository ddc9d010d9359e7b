"""Same-store bundle generation and the bundle size target."""

from __future__ import annotations

from dispatch.engine.bundles import build_bundles, bundle_target_size
from tests.unit.engine.factories import POLICY, courier, order, travel


def test_build_bundles_groups_same_store_orders_going_the_same_way() -> None:
    orders = [
        order("a", to=(3000.0, 0.0), ready=600.0),
        order("b", to=(3200.0, 0.0), ready=620.0),
    ]
    bundles = build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=2)
    assert [tuple(o.order_id for o in b.orders) for b in bundles] == [("a", "b")]
    assert bundles[0].ready_at == 620.0


def test_build_bundles_never_mixes_stores() -> None:
    orders = [
        order("a", store="s1", store_at=(0.0, 0.0)),
        order("b", store="s2", store_at=(10.0, 0.0)),
    ]
    bundles = build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=3)
    assert sorted(b.store_id for b in bundles) == ["s1", "s2"]
    assert all(b.size == 1 for b in bundles)


def test_build_bundles_does_not_push_an_order_past_its_promise() -> None:
    # b's door is opposite a's: carried together, one of them would arrive after its promise.
    orders = [
        order("a", to=(3000.0, 0.0), ready=600.0, promise=600.0 + 60 + 600 + 60 + 30),
        order("b", to=(-3000.0, 0.0), ready=600.0, promise=600.0 + 60 + 600 + 60 + 30),
    ]
    bundles = build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=2)
    assert sorted(b.size for b in bundles) == [1, 1]


def test_build_bundles_respects_the_target_size() -> None:
    orders = [order(f"o{k}", to=(3000.0 + k, 0.0)) for k in range(5)]
    bundles = build_bundles(orders, travel=travel, now=0.0, policy=POLICY, target_size=2)
    assert max(b.size for b in bundles) == 2
    assert sorted(o.order_id for b in bundles for o in b.orders) == [f"o{k}" for k in range(5)]


def test_bundle_target_size_is_one_when_couriers_are_plentiful() -> None:
    orders = [order("a"), order("b")]
    couriers = [courier(f"c{k}") for k in range(5)]
    assert bundle_target_size(orders=orders, couriers=couriers, now=0.0, policy=POLICY) == 1


def test_bundle_target_size_grows_when_couriers_are_short_but_not_past_capacity() -> None:
    orders = [order(f"o{k}") for k in range(7)]
    assert (
        bundle_target_size(orders=orders, couriers=[courier("c1")], now=0.0, policy=POLICY) == 3
    )
    small = [courier("c1", capacity=2)]
    assert bundle_target_size(orders=orders, couriers=small, now=0.0, policy=POLICY) == 2
