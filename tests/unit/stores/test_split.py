"""Split store choice against brute force over every pair of stores in range."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from stores.choice import StoreConditions, rank_stores
from stores.split import best_pair
from tests.unit.stores.test_choice import world  # noqa: F401  (fixture)


def _conditions(world):  # noqa: F811
    return StoreConditions(world["store_ids"], world["radius_s"], world["ready_in_s"], world["is_open"])


def _brute_force(world, node, lines):  # noqa: F811
    """Every pair of stores that can each fill whole lines and together fill all, ranked as best_pair says."""
    in_range = {c.store_id: c for sku, q in lines.items()
                for c in rank_stores(node=node, lines={sku: q}, tables=world["tables"], stores=_conditions(world),
                                     stock=world["stock"], limit=len(world["store_ids"])).candidates}
    best = None
    for a, b in itertools.permutations(in_range.values(), 2):
        if (a.predicted_delivery_s, a.store_id) > (b.predicted_delivery_s, b.store_id):
            continue
        stock = world["stock"]
        to_a = [s for s, q in lines.items() if stock.available(a.store_id, s) >= q]
        to_b = [s for s, q in lines.items() if s not in to_a and stock.available(b.store_id, s) >= q]
        if not to_a or not to_b or len(to_a) + len(to_b) < len(lines):
            continue
        cost = (max(a.predicted_delivery_s, b.predicted_delivery_s), a.predicted_delivery_s + b.predicted_delivery_s)
        if best is None or cost < best[0]:
            best = (cost, a.store_id, b.store_id)
    return best


def test_best_pair_agrees_with_brute_force_where_no_single_store_fills_the_order(world):  # noqa: F811
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(300):
        node = int(rng.integers(world["network"].node_count))
        skus = rng.choice(20, size=6, replace=False)
        lines = {f"sku{j}": int(rng.integers(2, 4)) for j in skus}
        single = rank_stores(node=node, lines=lines, tables=world["tables"], stores=_conditions(world),
                             stock=world["stock"], limit=1)
        if single.candidates:
            continue
        pair = best_pair(node=node, lines=lines, tables=world["tables"], stores=_conditions(world),
                         stock=world["stock"], per_line=len(world["store_ids"]))
        expected = _brute_force(world, node, lines)
        if expected is None:
            assert pair is None
            continue
        checked += 1
        assert pair is not None
        got = (max(pair.first.predicted_delivery_s, pair.second.predicted_delivery_s),
               pair.first.predicted_delivery_s + pair.second.predicted_delivery_s)
        assert got == pytest.approx(expected[0])
        assert sorted(pair.first_lines + pair.second_lines) == sorted(lines.items())
    assert checked >= 20, checked
