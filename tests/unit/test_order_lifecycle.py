"""The order state machine: exactly the transitions DESIGN.md section 5 allows."""

from __future__ import annotations

import itertools

import pytest

from dispatch.errors import InvalidTransition, NotCancellable
from dispatch.orders.lifecycle import (
    HOLDS_RESERVATION,
    OPEN,
    OrderStatus,
    can_transition,
    check_transition,
    sources_of,
)

S = OrderStatus
ALLOWED = {
    (S.PLACED, S.RESERVED), (S.PLACED, S.CANCELLED), (S.PLACED, S.FAILED),
    (S.RESERVED, S.ASSIGNED), (S.RESERVED, S.CANCELLED), (S.RESERVED, S.FAILED),
    (S.ASSIGNED, S.PICKED_UP), (S.ASSIGNED, S.RESERVED), (S.ASSIGNED, S.CANCELLED), (S.ASSIGNED, S.FAILED),
    (S.PICKED_UP, S.DELIVERED), (S.PICKED_UP, S.FAILED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_transition_table_is_exactly_the_designed_one(current, new):
    assert can_transition(current, new) == ((current, new) in ALLOWED)
    if (current, new) in ALLOWED:
        check_transition("o1", current, new)
    else:
        expected = NotCancellable if new is S.CANCELLED else InvalidTransition
        with pytest.raises(expected):
            check_transition("o1", current, new)


def test_closed_statuses_are_final():
    for closed in (S.DELIVERED, S.CANCELLED, S.FAILED):
        assert not any(can_transition(closed, new) for new in S)
        assert closed not in OPEN


def test_cancel_after_pickup_is_not_cancellable_with_a_clear_reason():
    with pytest.raises(NotCancellable, match="picked_up"):
        check_transition("o7", S.PICKED_UP, S.CANCELLED)


def test_guards_and_reservation_holders():
    assert sources_of(S.ASSIGNED) == {S.RESERVED}
    assert sources_of(S.DELIVERED) == {S.PICKED_UP}
    assert {S.RESERVED, S.ASSIGNED} == HOLDS_RESERVATION
