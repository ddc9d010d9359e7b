"""An order's status from its legs, and the pick result's checks (pure)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dispatch.errors import InvalidPick
from dispatch.orders.legs import Leg, delivered_at, leg_id, order_of, order_status
from dispatch.orders.lifecycle import OrderStatus as S
from dispatch.orders.shelf import check_pick

T = datetime(2026, 12, 2, 12, tzinfo=UTC)


def leg(n, status, at=None):
    return Leg(leg_no=n, store_id=f"s{n}", status=status, courier_id=None, lines=(("milk", 1),), delivered_at=at)


@pytest.mark.parametrize(("statuses", "expected"), [
    ((S.RESERVED,), S.RESERVED),
    ((S.DELIVERED, S.ASSIGNED), S.ASSIGNED),  # on its way while any leg is
    ((S.PICKED_UP, S.DELIVERED), S.PICKED_UP),
    ((S.DELIVERED, S.DELIVERED), S.DELIVERED),
    ((S.CANCELLED, S.DELIVERED), S.DELIVERED),  # a dropped leg does not hold the order back
    ((S.CANCELLED, S.CANCELLED), S.CANCELLED),
    ((S.FAILED, S.DELIVERED), S.FAILED),
    ((S.HELD, S.ASSIGNED), S.HELD),
])
def test_the_order_is_as_far_as_its_slowest_live_leg(statuses, expected):
    assert order_status([leg(i + 1, s) for i, s in enumerate(statuses)]) is expected


def test_the_order_reaches_the_door_with_its_last_leg():
    late = T.replace(minute=20)
    assert delivered_at([leg(1, S.DELIVERED, T), leg(2, S.DELIVERED, late)]) == late
    assert delivered_at([leg(1, S.DELIVERED, T), leg(2, S.PICKED_UP)]) is None
    assert delivered_at([leg(1, S.DELIVERED, T), leg(2, S.CANCELLED)]) == T


def test_leg_ids_cannot_collide_with_order_ids():
    assert leg_id("o1", 1) == "o1" and leg_id("o1", 3) == "o1/3"
    assert order_of("o1/3") == "o1" and order_of("o1") == "o1"


def test_a_pick_result_names_the_missing_units_and_refuses_what_the_leg_does_not_hold():
    assert check_pick({"milk": 2, "eggs": 1}, {"milk": 1}) == {"milk": 1}
    assert check_pick({"milk": 2}, {"milk": 2}) == {}
    with pytest.raises(InvalidPick, match="no bread"):
        check_pick({"milk": 2}, {"bread": 1})
    with pytest.raises(InvalidPick, match="more than the leg holds: milk"):
        check_pick({"milk": 2}, {"milk": 3})
