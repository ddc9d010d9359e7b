"""Route timing and the must-leave-now rule."""

from __future__ import annotations

from dispatch.engine.timing import best_sequence, must_leave_now, time_route
from tests.unit.engine.factories import POLICY, travel


def test_time_route_picks_up_at_ready_time_and_drops_in_sequence() -> None:
    t = time_route(
        location=(500.0, 0.0),  # 100 s from the store
        start_at=0.0,
        store_location=(0.0, 0.0),
        ready_at=600.0,
        dropoffs=[(1000.0, 0.0), (2000.0, 0.0)],  # 200 s, then 200 s
        travel=travel,
        policy=POLICY,
    )
    assert t.leave_by == 600.0 - 60.0 - 100.0
    assert t.depart_at == t.leave_by
    assert t.arrive_store_at == 540.0
    assert t.pickup_at == 600.0
    assert t.dropoff_at == (600.0 + 60 + 200 + 60, 600.0 + 60 + 200 + 60 + 60 + 200 + 60)
    assert t.free_at == t.dropoff_at[-1] + 60.0


def test_time_route_late_courier_picks_up_after_arrival_service() -> None:
    t = time_route(
        location=(5000.0, 0.0),  # 1000 s away
        start_at=100.0,
        store_location=(0.0, 0.0),
        ready_at=300.0,
        dropoffs=[(0.0, 500.0)],
        travel=travel,
        policy=POLICY,
    )
    assert t.depart_at == 100.0
    assert t.arrive_store_at == 1100.0
    assert t.pickup_at == 1160.0


def test_time_route_depart_now_waits_at_the_store() -> None:
    t = time_route(
        location=(500.0, 0.0),
        start_at=0.0,
        store_location=(0.0, 0.0),
        ready_at=600.0,
        dropoffs=[(1000.0, 0.0)],
        travel=travel,
        policy=POLICY,
        depart_now=True,
    )
    assert (t.depart_at, t.arrive_store_at, t.pickup_at) == (0.0, 100.0, 600.0)


def test_must_leave_now_only_when_waiting_a_round_would_miss_ready() -> None:
    assert not must_leave_now(leave_by=106.0, free_at=0.0, now=100.0, policy=POLICY)
    assert must_leave_now(leave_by=104.0, free_at=0.0, now=100.0, policy=POLICY)
    assert must_leave_now(leave_by=50.0, free_at=0.0, now=100.0, policy=POLICY)


def test_must_leave_now_never_for_a_busy_courier() -> None:
    assert not must_leave_now(leave_by=50.0, free_at=101.0, now=100.0, policy=POLICY)


def test_best_sequence_delivers_the_near_door_first() -> None:
    perm, offsets = best_sequence(
        (0.0, 0.0), [(4000.0, 0.0), (1000.0, 0.0)], travel=travel, policy=POLICY
    )
    assert perm == (1, 0)
    assert offsets[0] < offsets[1]
