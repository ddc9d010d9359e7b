"""One dispatch round against in-memory ports: the real engine plans, the fakes record."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta

from dispatch.clock import VirtualClock
from dispatch.couriers.model import CourierRow, OpenOrderRow
from dispatch.round.loop import DispatchLoop, RoundPorts
from tests.conftest import T0
from tests.unit.services.conftest import POLICY
from tests.unit.services.fakes import EveryZone, InMemoryRoundState, NoSilentCouriers, RecordingObserver


def open_order(district, sites, order_id: str, *, minutes_ago: float = 0.0) -> OpenOrderRow:
    placed = T0 - timedelta(minutes=minutes_ago)
    return OpenOrderRow(order_id=order_id, store_id="A", zone="z", status="reserved", drop_node=sites["drop"],
                        placed_at=placed, ready_at=placed + timedelta(minutes=5), packed_at=None,
                        promised_by=placed + timedelta(minutes=30),
                        predicted_delivery_at=placed + timedelta(minutes=20), courier_id=None, route_id=None)


def courier(district, node: int, courier_id: str = "c1", **extra) -> CourierRow:
    return CourierRow(courier_id=courier_id, zone="z", capacity=3, on_shift=True, shift_ends_at=None,
                      lat=float(district.lat[node]), lon=float(district.lon[node]), position_at=T0, route_id=None,
                      route_free_at=None, route_end_node=None, **extra)


def loop_over(state, keeper, load, clock=None):
    observer = RecordingObserver()
    silent = NoSilentCouriers()
    loop = DispatchLoop(RoundPorts(state=state, couriers=silent, lease=EveryZone()), keeper=keeper, load=load,
                        clock=clock or VirtualClock(T0), metrics=observer, policy=POLICY)
    return loop, observer, silent


async def test_round_gives_the_waiting_orders_to_the_idle_courier_at_the_store(district, sites, keeper, load):
    # packed by now (placed 5 min ago), the courier at the door: the engine commits at once
    state = InMemoryRoundState(orders=[open_order(district, sites, "o1", minutes_ago=5),
                                       open_order(district, sites, "o2", minutes_ago=5)],
                               courier_rows=[courier(district, sites["a"])])
    loop, observer, silent = loop_over(state, keeper, load)
    report = await loop.tick()
    assert report.zones == ("z",) and report.open_orders == 2
    assert report.committed == [("c1", tuple(sorted(report.committed[0][1])))]
    assert sorted(report.committed[0][1]) == ["o1", "o2"]
    [route] = state.committed
    assert (route.courier_id, route.store_id, route.zone) == ("c1", "A", "z")
    assert route.depart_at <= route.arrive_store_at <= route.pickup_at < max(route.predicted)
    assert set(state.predictions) == {"o1", "o2"}
    assert observer.named("route_committed") == [("z",)]
    [gauges] = observer.named("zone_state")
    assert gauges[0] == "z" and dict(gauges[1:])["in_flight"] == {"reserved": 2}
    assert dict(gauges[1:])["couriers"] == {"off": 0, "idle": 1, "busy": 0}
    assert [args[0] for args in observer.named("round_finished")] == [{"z"}]
    assert silent.asked == []


async def test_round_counts_a_lost_claim_and_writes_nothing(district, sites, keeper, load):
    state = InMemoryRoundState(orders=[open_order(district, sites, "o1", minutes_ago=5)],
                               courier_rows=[courier(district, sites["a"])], lose_claims=True)
    loop, observer, _ = loop_over(state, keeper, load)
    report = await loop.tick()
    assert report.lost_claims == 1 and report.committed == [] and state.committed == []
    assert observer.named("route_committed") == []


async def test_round_hands_back_a_silent_couriers_orders_and_counts_late_ones(district, sites, keeper, load):
    clock = VirtualClock(T0 + timedelta(seconds=POLICY.courier_silence_s + 1))
    state = InMemoryRoundState(orders=[open_order(district, sites, "o1", minutes_ago=40)],
                               courier_rows=[courier(district, sites["a"])], late_zones=["z"])
    loop, observer, silent = loop_over(state, keeper, load, clock)
    report = await loop.tick()
    assert silent.asked == ["c1"] and report.late == 1
    assert observer.named("outcome") == [("z", "late")]
    [gauges] = observer.named("zone_state")
    assert dict(gauges[1:])["at_risk"] == 1  # its promise has passed


async def test_round_gives_nothing_to_a_courier_already_on_a_route(district, sites, keeper, load):
    busy = replace(courier(district, sites["a"]), route_id=9, route_free_at=T0 + timedelta(minutes=20),
                   route_end_node=sites["drop"])
    state = InMemoryRoundState(orders=[open_order(district, sites, "o1", minutes_ago=5)], courier_rows=[busy])
    loop, observer, _ = loop_over(state, keeper, load)
    report = await loop.tick()
    assert report.committed == [] and state.committed == []
    assert dict(observer.named("zone_state")[0][1:])["couriers"] == {"off": 0, "idle": 0, "busy": 1}


async def test_a_woken_loop_runs_its_next_round_at_once(district, sites, keeper, load):
    """An hour's interval, yet a wake (a short pick just added a leg) starts the next round."""
    state = InMemoryRoundState(orders=[], courier_rows=[])
    loop, observer, _ = loop_over(state, keeper, load)
    loop.policy = replace(POLICY, dispatch_interval_s=3600.0)
    task = asyncio.create_task(loop.run_forever())
    try:
        for _ in range(200):
            if observer.named("round_finished"):
                break
            await asyncio.sleep(0.01)
        assert len(observer.named("round_finished")) == 1
        loop.wake()
        await asyncio.wait_for(_rounds_reach(observer, 2), timeout=30)
    finally:
        task.cancel()


async def _rounds_reach(observer, n: int) -> None:
    while len(observer.named("round_finished")) < n:
        await asyncio.sleep(0.01)


def test_an_idle_courier_is_free_half_the_door_service_after_its_last_handover(district, sites):
    # the engine's model: a courier leaves the door dropoff_half_s after the handover; the demo's
    # committed routes reached the store 38-62 s later than planned while dispatch said "free now"
    from dispatch.round.inputs import engine_couriers, epoch

    rows = [courier(district, sites["a"], "just", last_handover_at=T0 - timedelta(seconds=20)),
            courier(district, sites["a"], "long", last_handover_at=T0 - timedelta(minutes=5)),
            courier(district, sites["a"], "none")]
    view = engine_couriers(rows, network=district, now=T0, silence_s=600.0, max_snap_m=POLICY.max_snap_m,
                           default_shift_s=3600.0, after_handover_s=60.0)
    free = {c.courier_id: c.free_at - epoch(T0) for c in view.states}
    assert free == {"just": 40.0, "long": 0.0, "none": 0.0}
    assert view.idle == {"just", "long", "none"}
