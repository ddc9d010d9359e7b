"""The order state machine: exactly the transitions DESIGN.md sections 5 and 12 allow, by whom."""

from __future__ import annotations

import itertools

import pytest

from dispatch.errors import InvalidTransition, NotCancellable, NotReassignable
from dispatch.orders.lifecycle import (
    CLOSED,
    HOLDS_RESERVATION,
    OPEN,
    STEPS,
    ActorType,
    EventType,
    OrderStatus,
    Step,
    can_take,
    check_actor,
    check_step,
    event_of,
    next_statuses,
    sources,
    target,
)

S = OrderStatus
A = ActorType
# Written out by hand from the design, so a change to the table has to change this too. Placement
# creates an order straight in RESERVED (the RESERVE step has no source): PLACED is only ever
# seen on rows from before reservation and placement became one statement.
ALLOWED = {
    (S.PLACED, S.CANCELLED), (S.PLACED, S.FAILED),
    (S.RESERVED, S.ASSIGNED), (S.RESERVED, S.CANCELLED), (S.RESERVED, S.FAILED), (S.RESERVED, S.HELD),
    (S.HELD, S.RESERVED), (S.HELD, S.CANCELLED), (S.HELD, S.FAILED),
    (S.ASSIGNED, S.PICKED_UP), (S.ASSIGNED, S.RESERVED), (S.ASSIGNED, S.CANCELLED), (S.ASSIGNED, S.FAILED),
    (S.ASSIGNED, S.HELD),
    (S.PICKED_UP, S.DELIVERED), (S.PICKED_UP, S.FAILED),
}


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_status_pairs_are_exactly_the_designed_ones(current, new):
    assert (new in next_statuses(current)) == ((current, new) in ALLOWED)


@pytest.mark.parametrize(("step", "current"), list(itertools.product(Step, S)))
def test_check_step_refuses_exactly_the_statuses_outside_the_table(step, current):
    if current in STEPS[step].sources:
        check_step("o1", step, current)
    else:
        expected = {Step.CANCEL: NotCancellable}.get(step, InvalidTransition)
        if step is Step.REASSIGN and current in (S.PICKED_UP, *CLOSED):
            expected = NotReassignable
        with pytest.raises(expected, match=current.value):
            check_step("o1", step, current)


def test_closed_statuses_are_final():
    for closed in CLOSED:
        assert next_statuses(closed) == frozenset()
        assert closed not in OPEN
        assert not any(closed in t.sources for t in STEPS.values())


def test_cancel_after_pickup_is_not_cancellable_with_a_clear_reason():
    with pytest.raises(NotCancellable, match="picked_up"):
        check_step("o7", Step.CANCEL, S.PICKED_UP)


def test_guards_are_the_sql_parameters():
    assert sources(Step.ASSIGN) == ["reserved"] and target(Step.ASSIGN) == "assigned"
    assert sources(Step.DELIVER) == ["picked_up"] and target(Step.DELIVER) == "delivered"
    assert sources(Step.CANCEL) == ["assigned", "held", "placed", "reserved"]
    assert {S.RESERVED, S.HELD, S.ASSIGNED} == HOLDS_RESERVATION
    with pytest.raises(ValueError, match="does not change the status"):
        target(Step.MARK_LATE)


def test_a_step_by_an_actor_the_table_does_not_allow_is_refused():
    check_actor(Step.PICK_UP, A.COURIER)
    with pytest.raises(ValueError, match="a store cannot take the step 'pick_up'"):
        check_actor(Step.PICK_UP, A.STORE)


def test_actors_take_only_their_own_steps():
    assert can_take(Step.PICK_UP, S.ASSIGNED, A.COURIER)
    assert not can_take(Step.PICK_UP, S.ASSIGNED, A.STORE)
    assert not can_take(Step.ASSIGN, S.RESERVED, A.COURIER)
    assert can_take(Step.CANCEL, S.RESERVED, A.OPERATOR)
    assert not can_take(Step.CANCEL, S.PICKED_UP, A.OPERATOR)


def test_every_step_writes_its_own_event_type():
    assert event_of(Step.RESERVE) is EventType.RESERVED
    assert event_of(Step.MARK_LATE) is EventType.LATE
    assert event_of(Step.UPDATE_ETA) is EventType.ETA_UPDATED
    assert len({event_of(step) for step in Step}) == len(Step)
