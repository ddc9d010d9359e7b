"""The MDRP simulator on the tiny instance: loads, runs, writes a feasible solution."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch.sim.mdrp import simulate, write_solution
from dispatch.sim.mdrp_check import check_solution, solution_metrics
from dispatch.sim.mdrp_format import (
    ASSIGNMENTS_FILE,
    COURIERS_FILE,
    ORDERS_FILE,
    MdrpFormatError,
    load_instance,
)

TINY = Path(__file__).resolve().parents[2] / "data" / "mdrp" / "tiny"


def test_load_instance_reads_the_tiny_instance() -> None:
    inst = load_instance(TINY)
    assert (len(inst.orders), len(inst.restaurants), len(inst.couriers)) == (30, 4, 5)
    assert inst.meters_per_minute == 320
    assert (inst.pickup_service_min, inst.dropoff_service_min) == (4, 4)
    assert inst.travel_minutes("r1", "r1") == 0


def test_load_instance_rejects_a_directory_without_instance_files(tmp_path: Path) -> None:
    with pytest.raises(MdrpFormatError):
        load_instance(tmp_path)


def test_simulate_tiny_instance_is_feasible_and_delivers_everything(tmp_path: Path) -> None:
    inst = load_instance(TINY)
    solution = simulate(inst)
    write_solution(solution, tmp_path)
    assert check_solution(inst, tmp_path) == []
    m = solution_metrics(inst, tmp_path)
    assert m.delivered == m.orders == 30
    assert solution.undelivered == ()
    assert m.ctd_mean_min >= m.bound_ctd_mean_min
    assert any(len(a.orders) > 1 for a in solution.assignments)


def test_simulate_never_assigns_before_placement_nor_picks_before_ready() -> None:
    inst = load_instance(TINY)
    solution = simulate(inst)
    for a in solution.assignments:
        for oid in a.orders:
            assert a.assignment_time >= inst.orders[oid].placement_time
            assert a.pickup_time >= inst.orders[oid].ready_time


def test_simulate_is_deterministic(tmp_path: Path) -> None:
    inst = load_instance(TINY)
    write_solution(simulate(inst), tmp_path / "a")
    write_solution(simulate(inst), tmp_path / "b")
    for name in (ASSIGNMENTS_FILE, ORDERS_FILE, COURIERS_FILE):
        assert (tmp_path / "a" / name).read_text() == (tmp_path / "b" / name).read_text()


def test_write_solution_uses_single_spaces_and_no_blank_lines(tmp_path: Path) -> None:
    write_solution(simulate(load_instance(TINY)), tmp_path)
    for name in (ASSIGNMENTS_FILE, ORDERS_FILE, COURIERS_FILE):
        text = (tmp_path / name).read_text()
        for line in text.splitlines():
            assert line and line == line.strip() and "\t" not in line and "  " not in line


def test_stack_instance_copies_orders_and_couriers_with_mdrplib_ids() -> None:
    from dispatch.sim.mdrp_stack import stack_instance

    inst = load_instance(TINY)
    stacked = stack_instance(inst, 3)
    assert (len(stacked.orders), len(stacked.couriers)) == (90, 15)
    assert stacked.restaurants == inst.restaurants
    assert stacked.orders["o31"].placement_time == inst.orders["o1"].placement_time
    assert stacked.location("o61") == inst.location("o1")
    assert stacked.couriers["c6"].on_time == inst.couriers["c1"].on_time
    assert all(k[0] in "oc" and k[1:].isdigit() for k in [*stacked.orders, *stacked.couriers])


def test_stacked_tiny_instance_simulates_feasibly(tmp_path: Path) -> None:
    from dispatch.sim.mdrp_stack import stack_instance

    inst = stack_instance(load_instance(TINY), 2)
    write_solution(simulate(inst), tmp_path)
    assert check_solution(inst, tmp_path) == []
    assert solution_metrics(inst, tmp_path).delivered == 60


def test_instance_travel_matrix_equals_the_pair_by_pair_rule() -> None:
    from dispatch.sim.mdrp_travel import MINUTE_S, InstanceTravel

    inst = load_instance(TINY)
    travel = InstanceTravel(inst)
    places = [*inst.orders, *inst.restaurants, *inst.couriers]
    got = travel.matrix(places, list(inst.restaurants))
    want = [[inst.travel_minutes(a, b) * MINUTE_S for b in inst.restaurants] for a in places]
    assert got.tolist() == want
