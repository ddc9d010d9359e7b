"""The half-hour promise and the SLI arithmetic of dispatch/sla.py (pure)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from dispatch.orders.sla import (
    OBJECTIVE,
    Outcome,
    counts_against_sli,
    is_overdue,
    outcome_when_closed,
    outcome_when_delivered,
    promise_for,
    sli,
)

PLACED = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
PROMISE = PLACED + timedelta(minutes=30)
SECOND = timedelta(seconds=1)


def counts(outcomes: list[Outcome]) -> Counter[Outcome]:
    return Counter(outcomes)


def test_promise_is_placement_plus_the_sla():
    assert promise_for(PLACED, sla_minutes=30) == PROMISE
    assert promise_for(PLACED, sla_minutes=12.5) == PLACED + timedelta(minutes=12, seconds=30)


def test_delivered_at_the_promise_is_on_time_and_a_second_later_is_late():
    assert outcome_when_delivered(PLACED + SECOND, PROMISE) is Outcome.ON_TIME
    assert outcome_when_delivered(PROMISE, PROMISE) is Outcome.ON_TIME
    assert outcome_when_delivered(PROMISE + SECOND, PROMISE) is Outcome.LATE


@pytest.mark.parametrize("closed", [Outcome.CANCELLED, Outcome.FAILED])
def test_closed_before_the_promise_keeps_its_outcome_and_after_it_is_late(closed):
    assert outcome_when_closed(closed, PLACED, PROMISE) is closed
    assert outcome_when_closed(closed, PROMISE, PROMISE) is closed
    assert outcome_when_closed(closed, PROMISE + SECOND, PROMISE) is Outcome.LATE


def test_overdue_only_once_the_promise_has_passed():
    # the sweeper's condition (promised_by < now) and the delivery rule agree at the boundary
    assert not is_overdue(PROMISE, PROMISE - SECOND)
    assert not is_overdue(PROMISE, PROMISE)
    assert is_overdue(PROMISE, PROMISE + SECOND)
    for at in (PROMISE - SECOND, PROMISE, PROMISE + SECOND):
        assert is_overdue(PROMISE, at) == (outcome_when_delivered(at, PROMISE) is Outcome.LATE)


def test_only_cancellations_are_left_out_of_the_sli():
    assert [o for o in Outcome if not counts_against_sli(o)] == [Outcome.CANCELLED]
    assert {o.value for o in Outcome} == {"on_time", "late", "cancelled", "failed"}


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([Outcome.ON_TIME] * 19 + [Outcome.LATE], 0.95),
        ([Outcome.ON_TIME] * 19 + [Outcome.FAILED], 0.95),
        ([Outcome.ON_TIME] * 19 + [Outcome.LATE] + [Outcome.CANCELLED] * 50, 0.95),
        ([Outcome.ON_TIME] * 3, 1.0),
        ([Outcome.LATE] * 3, 0.0),
        ([Outcome.CANCELLED] * 3, None),
        ([], None),
    ],
)
def test_sli_is_on_time_over_on_time_late_and_failed(outcomes, expected):
    got = sli(counts(outcomes))
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)


def test_sli_reads_counts_keyed_by_outcome_values():
    # the operators' summary and the metrics carry outcomes as plain strings
    assert sli({"on_time": 19, "late": 1, "cancelled": 4}) == pytest.approx(0.95)
    assert sli({"cancelled": 2}) is None


def test_error_budget_and_burn_rate_for_a_95_percent_objective():
    assert OBJECTIVE == 0.95  # the README's "95% of orders delivered within 30 minutes"
    outcomes = [Outcome.ON_TIME] * 90 + [Outcome.LATE] * 8 + [Outcome.FAILED] * 2 + [Outcome.CANCELLED] * 7
    ratio = sli(counts(outcomes))
    assert ratio == pytest.approx(0.90)
    error_budget = 1 - OBJECTIVE
    assert (1 - ratio) / error_budget == pytest.approx(2.0)  # burning the budget twice as fast as allowed
