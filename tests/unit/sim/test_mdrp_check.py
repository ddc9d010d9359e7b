"""The MDRP checker: a valid hand-made solution passes; each broken rule is caught."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from dispatch.sim.mdrp_check import check_solution, lower_bound_ctd, solution_metrics
from dispatch.sim.mdrp_format import (
    ASSIGNMENTS_FILE,
    COURIERS_FILE,
    ORDERS_FILE,
    MdrpCourier,
    MdrpInstance,
    MdrpOrder,
)

# Restaurant r1 at the origin; o1 10 min east, o2 10 min north (15 min from o1); c1 starts
# 5 min east of r1. c1 leaves at 5, reaches r1 at 10, picks up at 12, leaves at 14, drops
# o1 at 26 (arrives 24), leaves at 28, drops o2 at 45 (arrives 43).
VALID = {
    ASSIGNMENTS_FILE: "assignment_time pickup_time courier orders\n5 12 c1 o1 o2\n",
    ORDERS_FILE: (
        "order placement_time ready_time pickup_time dropoff_time courier\n"
        "o1 0 10 12 26 c1\n"
        "o2 0 10 12 45 c1\n"
    ),
    COURIERS_FILE: (
        "courier departure_time origin destination\nc1 5 0 r1\nc1 14 r1 o1\nc1 28 o1 o2\n"
    ),
}


def _instance(**changes: object) -> MdrpInstance:
    inst = MdrpInstance(
        name="micro",
        orders={
            "o1": MdrpOrder("o1", 3200.0, 0.0, 0, "r1", 10),
            "o2": MdrpOrder("o2", 0.0, 3200.0, 0, "r1", 10),
        },
        restaurants={"r1": (0.0, 0.0), "r2": (0.0, 0.0)},
        couriers={
            "c1": MdrpCourier("c1", 1600.0, 0.0, 0, 100),
            "c2": MdrpCourier("c2", 0.0, 0.0, 0, 100),
        },
        meters_per_minute=320.0,
        pickup_service_min=4,
        dropoff_service_min=4,
        target_ctd_min=40,
        max_ctd_min=90,
    )
    return dataclasses.replace(inst, **changes)


def _write(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    return tmp_path


def _mutated(file: str, old: str, new: str) -> dict[str, str]:
    assert old in VALID[file]
    return {**VALID, file: VALID[file].replace(old, new)}


def _tags(violations: list[str]) -> set[str]:
    return {v.split("]")[0] + "]" for v in violations}


def test_check_solution_accepts_the_valid_solution(tmp_path: Path) -> None:
    assert check_solution(_instance(), _write(tmp_path, VALID)) == []


def test_solution_metrics_of_the_valid_solution(tmp_path: Path) -> None:
    m = solution_metrics(_instance(), _write(tmp_path, VALID))
    assert (m.delivered, m.orders) == (2, 2)
    assert m.ctd_mean_min == pytest.approx((26 + 45) / 2)
    assert m.ready_to_pickup_mean_min == 2.0
    assert m.over_90_min == 0
    assert m.share_within_40 == 0.5
    assert lower_bound_ctd(_instance()) == pytest.approx(10 + 4 + 10)


CASES = {
    "[1]": (ASSIGNMENTS_FILE, "5 12 c1 o1 o2\n", "5 12 c1 o1 o2\n6 12 c1 o2\n"),
    "[2]": (ASSIGNMENTS_FILE, "5 12 c1", "-1 12 c1"),
    "[5]": (ORDERS_FILE, "o2 0 10 12 45", "o2 0 10 12 29"),
    "[6a]": (COURIERS_FILE, "c1 28 o1 o2", "c1 28 r1 o2"),
    "[6b]": (COURIERS_FILE, "c1 14 r1 o1", "c1 9 r1 o1"),
    "[7]": (COURIERS_FILE, "c1 5 0 r1", "c1 8 0 r1"),
    "[8]": (ORDERS_FILE, "o1 0 10 12 26", "o1 0 10 12 23"),
    "[strict-service]": (ORDERS_FILE, "o1 0 10 12 26", "o1 0 10 12 25"),
    "[strict-files]": (ORDERS_FILE, "o1 0 10 12 26", "o1 0 10 13 26"),
    "[strict-assign]": (ASSIGNMENTS_FILE, "5 12 c1", "13 12 c1"),
    "[strict-route]": (ASSIGNMENTS_FILE, "5 12 c1 o1 o2", "5 12 c1 o1\n5 12 c1 o2"),
    "[files]": (COURIERS_FILE, "c1 5 0 r1\nc1 14 r1 o1\nc1 28 o1 o2\n", ""),
    "[ids]": (ASSIGNMENTS_FILE, "c1 o1 o2", "c1 o1 o9"),
}


@pytest.mark.parametrize("tag", sorted(CASES))
def test_check_solution_catches_each_broken_rule(tmp_path: Path, tag: str) -> None:
    violations = check_solution(_instance(), _write(tmp_path, _mutated(*CASES[tag])))
    assert tag in _tags(violations), violations


def test_check_solution_catches_pickup_after_the_shift(tmp_path: Path) -> None:
    inst = _instance(couriers={"c1": MdrpCourier("c1", 1600.0, 0.0, 0, 11)})
    assert "[3]" in _tags(check_solution(inst, _write(tmp_path, VALID)))


def test_check_solution_catches_pickup_before_ready(tmp_path: Path) -> None:
    orders = dict(_instance().orders)
    orders["o1"] = dataclasses.replace(orders["o1"], ready_time=13)
    tags = _tags(check_solution(_instance(orders=orders), _write(tmp_path, VALID)))
    assert "[4]" in tags


def test_check_solution_catches_a_bundle_of_two_restaurants(tmp_path: Path) -> None:
    orders = dict(_instance().orders)
    orders["o2"] = dataclasses.replace(orders["o2"], restaurant="r2")
    tags = _tags(check_solution(_instance(orders=orders), _write(tmp_path, VALID)))
    assert tags == {"[strict-store]"}


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        (ORDERS_FILE, "o1 0 10 12 26 c1", "o1\t0 10 12 26 c1"),
        (ORDERS_FILE, "o1 0 10 12 26 c1", "o1 0 10 12 26 c1 "),
        (ORDERS_FILE, "o1 0 10 12 26 c1", "o1 0  10 12 26 c1"),
        (ORDERS_FILE, "o1 0 10 12 26 c1", "o1 0 10 12 NA c1"),
        (ASSIGNMENTS_FILE, "5 12 c1 o1 o2\n", "5 12 c1 o1 o2\n\n"),
        (COURIERS_FILE, "c1 14 r1 o1\n", "c1 14 r1 o1\nc2 0 0 r1\n"),
    ],
)
def test_check_solution_catches_layout_the_evaluator_misreads(
    tmp_path: Path, file: str, old: str, new: str
) -> None:
    violations = check_solution(_instance(), _write(tmp_path, _mutated(file, old, new)))
    assert "[format]" in _tags(violations), violations


def test_check_solution_reports_a_missing_file(tmp_path: Path) -> None:
    files = {k: v for k, v in VALID.items() if k != COURIERS_FILE}
    assert "[files]" in _tags(check_solution(_instance(), _write(tmp_path, files)))


def test_check_solution_flags_an_assignment_given_while_the_courier_is_on_a_trip(tmp_path: Path) -> None:
    # The second assignment comes at 20, while c1 is still carrying o1 (until 26 + 2).
    files = _mutated(ASSIGNMENTS_FILE, "5 12 c1 o1 o2\n", "5 12 c1 o1\n20 12 c1 o2\n")
    violations = check_solution(_instance(), _write(tmp_path, files))
    assert any(v.startswith("[strict-busy] c1: assignment on line 3 at 20") for v in violations), violations


def test_check_solution_flags_a_relocation_during_a_trip_and_one_to_a_door(tmp_path: Path) -> None:
    files = _mutated(COURIERS_FILE, "c1 28 o1 o2\n", "c1 28 o1 o2\nc1 47 o2 r2\nc2 0 0 o1\nc2 20 o1 r1\n")
    violations = check_solution(_instance(), _write(tmp_path, files))
    assert [v for v in violations if v.startswith("[strict-relocate]")] == [
        "[strict-relocate] c2 relocates at 0 to o1, not a restaurant"
    ]
    assert not any(v.startswith("[strict-busy]") for v in violations)  # 47 is after the trip
    files = _mutated(COURIERS_FILE, "c1 28 o1 o2\n", "c1 28 o1 r2\nc1 40 r2 o2\n")
    violations = check_solution(_instance(), _write(tmp_path, files))
    assert any(v.startswith("[strict-busy] c1: relocation to r2 at 28") for v in violations), violations


class _WrongTravelInstance(MdrpInstance):
    __slots__ = ()

    def travel_minutes(self, a: str, b: str) -> int:
        return 0  # a simulator bug: every trip is instant


def test_check_solution_uses_its_own_travel_not_the_instances(tmp_path: Path) -> None:
    # o1 is 10 minutes from r1: dropping it at 18 after leaving at 14 is impossible.
    files = _mutated(ORDERS_FILE, "o1 0 10 12 26", "o1 0 10 12 18")
    inst = _instance()
    wrong = _WrongTravelInstance(**{f.name: getattr(inst, f.name) for f in dataclasses.fields(inst)})
    assert wrong.travel_minutes("r1", "o1") == 0
    assert "[8]" in _tags(check_solution(wrong, _write(tmp_path, files)))


def test_judge_solution_counts_failures_next_to_feasibility(tmp_path: Path) -> None:
    from dispatch.sim.mdrp_check import judge_solution

    verdict = judge_solution(_instance(max_ctd_min=30), _write(tmp_path, VALID))
    assert (verdict.feasible, verdict.failures_over_max, verdict.max_ctd_min) == (True, 1, 30)
    assert judge_solution(_instance(), tmp_path).failures_over_max == 0
