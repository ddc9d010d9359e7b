"""Store legs: courier → store travel computed once per location and reused for the round."""

from __future__ import annotations

import numpy as np

from dispatch.engine.legs import StoreLegs
from tests.unit.engine.factories import travel


class CountingTravel:
    def __init__(self, with_matrix: bool) -> None:
        self.pairs = 0
        self.matrix_calls = 0
        if not with_matrix:
            self.matrix = None  # type: ignore[assignment]

    def __call__(self, a, b) -> float:
        self.pairs += 1
        return travel(a, b)

    def matrix(self, origins, destinations):
        self.matrix_calls += 1
        return np.array([[travel(a, b) for b in destinations] for a in origins])


STORES = [(0.0, 0.0), (1000.0, 0.0), (0.0, 2000.0)]
HERE, THERE = (500.0, 0.0), (0.0, 500.0)


def test_store_legs_asks_each_pair_once_per_round() -> None:
    counting = CountingTravel(with_matrix=False)
    legs = StoreLegs(STORES, counting)
    first = legs.matrix([HERE, THERE, HERE])
    assert first.shape == (3, 3) and counting.pairs == 6
    assert first[0].tolist() == [travel(HERE, s) for s in STORES]
    legs.matrix([THERE, HERE])
    assert counting.pairs == 6


def test_store_legs_computes_only_the_columns_asked_for() -> None:
    counting = CountingTravel(with_matrix=False)
    legs = StoreLegs(STORES, counting)
    part = legs.matrix([HERE], np.array([2]))
    assert part.tolist() == [[travel(HERE, STORES[2])]] and counting.pairs == 1
    legs.matrix([HERE])
    assert counting.pairs == 3


def test_store_legs_uses_a_travel_matrix_in_one_call() -> None:
    counting = CountingTravel(with_matrix=True)
    legs = StoreLegs(STORES, counting)
    out = legs.matrix([HERE, THERE])
    assert counting.matrix_calls == 1 and counting.pairs == 0
    assert out.tolist() == [[travel(p, s) for s in STORES] for p in (HERE, THERE)]
