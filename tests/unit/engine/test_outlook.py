"""The honest prediction: the soonest trip on the couriers as the round's plan leaves them."""

from __future__ import annotations

import math

import numpy as np

from dispatch.engine.model import EnginePolicy
from dispatch.engine.outlook import earliest_trip
from dispatch.engine.timing import time_route

POLICY = EnginePolicy()


def line_travel(a, b) -> float:
    """Locations on a line, 1 s per unit."""
    return float(abs(a - b))


def trip(**kw):
    base = dict(now=0.0, store_location=100, ready_at=0.0, dropoff=400, travel=line_travel, policy=POLICY)
    return earliest_trip(**{**base, **kw})


def test_the_courier_that_picks_up_soonest_is_taken_and_timed_like_the_round_times_it():
    locations = [0, 90, 500]
    free_at = np.array([0.0, 200.0, 0.0])
    to_store = np.array([line_travel(x, 100) for x in locations])
    courier, timing = trip(locations=locations, free_at=free_at, to_store_s=to_store,
                           shift_ends_at=np.full(3, math.inf))
    # courier 0: 100 s away, free now; courier 1: 10 s away but busy until 200; courier 2: 400 s away
    assert courier == 0
    assert timing == time_route(location=0, start_at=0.0, store_location=100, ready_at=0.0, dropoffs=(400,),
                                travel=line_travel, policy=POLICY)


def test_a_courier_whose_shift_ends_before_the_pickup_is_not_taken():
    free_at = np.zeros(2)
    to_store = np.array([10.0, 300.0])
    courier, _ = trip(locations=[90, 400], free_at=free_at, to_store_s=to_store,
                      shift_ends_at=np.array([5.0, math.inf]))
    assert courier == 1


def test_no_courier_in_reach_gives_no_trip():
    assert trip(locations=[0], free_at=np.zeros(1), to_store_s=np.array([math.inf]),
                shift_ends_at=np.array([math.inf])) is None
    assert trip(locations=[], free_at=np.zeros(0), to_store_s=np.zeros(0), shift_ends_at=np.zeros(0)) is None


def test_a_later_ready_time_moves_the_drop_off_by_exactly_that_much():
    args = dict(locations=[100], free_at=np.zeros(1), to_store_s=np.zeros(1), shift_ends_at=np.array([math.inf]))
    _, early = trip(ready_at=600.0, **args)
    _, late = trip(ready_at=900.0, **args)
    assert late.dropoff_at[0] - early.dropoff_at[0] == 300.0
