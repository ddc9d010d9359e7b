"""No order's values stall another's dispatch (issue 11, item 8).

An order placed "in 2099" (a client clock decades off) sat open in a zone while a packed,
at-risk order whose store's idle courier stood at the door stayed unassigned for minutes.
"""

from __future__ import annotations

from dataclasses import replace

from dispatch.engine import plan_round
from tests.unit.engine.factories import POLICY, courier, order, travel

NOW = 1_764_000_000.0  # late 2025, epoch seconds
YEAR_2099 = 4_070_908_800.0
STORE = (0.0, 0.0)


def _rounds_until_committed(orders, couriers, order_id: str, rounds: int = 80) -> int | None:
    """Replay rounds every 5 s (nothing else changes); the round that commits ``order_id``."""
    for k in range(rounds):
        plan = plan_round(orders=orders, couriers=couriers, travel=travel, now=NOW + 5.0 * k, policy=POLICY)
        if any(order_id in r.order_ids for r in plan.committed):
            return k
    return None


def _at_risk_world():
    at_risk = order("at_risk", store_at=STORE, to=(1000.0, 1000.0), placed=NOW - 1700.0,
                    ready=NOW - 300.0, promise=NOW + 100.0)
    # The store's courier stands at the door, idle; its shift runs long. Another courier is
    # still on a trip for ten minutes and its shift ends in two hours.
    at_door = courier("at_door", at=STORE, free=NOW, ends=YEAR_2099 + 86_400.0)
    busy = courier("busy", at=(2000.0, 0.0), free=NOW + 600.0, ends=NOW + 2 * 3600.0)
    return at_risk, [at_door, busy]


def test_an_order_placed_in_2099_does_not_stall_an_at_risk_order() -> None:
    at_risk, couriers = _at_risk_world()
    far = order("far", store_at=STORE, to=(500.0, 0.0), placed=YEAR_2099, ready=YEAR_2099 + 600.0,
                promise=YEAR_2099 + 1800.0)
    assert _rounds_until_committed([at_risk], couriers, "at_risk") == 0
    assert _rounds_until_committed([at_risk, far], couriers, "at_risk") == 0


def test_an_order_only_one_courier_can_take_does_not_keep_that_courier_from_an_urgent_one() -> None:
    at_risk, couriers = _at_risk_world()
    # Ready in three hours: only the courier at the door is still on shift then.
    later = order("later", store_at=STORE, to=(500.0, 0.0), placed=NOW, ready=NOW + 3 * 3600.0,
                  promise=NOW + 3 * 3600.0 + 1800.0)
    assert _rounds_until_committed([at_risk, later], couriers, "at_risk") == 0


def test_an_order_with_non_finite_times_neither_breaks_nor_stalls_the_round() -> None:
    at_risk, couriers = _at_risk_world()
    broken = replace(order("broken", store_at=STORE, to=(500.0, 0.0)), placed_at=float("nan"),
                     ready_at=float("inf"), promised_by=float("nan"))
    plan = plan_round(orders=[at_risk, broken], couriers=couriers, travel=travel, now=NOW, policy=POLICY)
    assert [r.order_ids for r in plan.committed] == [("at_risk",)]
    assert plan.unassigned == ("broken",)
