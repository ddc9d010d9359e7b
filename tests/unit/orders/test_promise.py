"""What intake promises when the honest prediction is past the half hour (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch.orders.promise import PromiseErrors, decide_promise
from tests.conftest import T0

PROMISE = T0 + timedelta(minutes=30)


@pytest.mark.parametrize("policy", ["accept", "extend", "refuse"])
def test_an_order_predicted_in_time_keeps_its_promise_whatever_the_policy(policy):
    promise = decide_promise(predicted=PROMISE, promised_by=PROMISE, on_overload=policy, cap_minutes=30)
    assert (promise.promised_by, promise.extended_minutes, promise.predicted_late, promise.refused) == (
        PROMISE, 0, False, False)


def test_accept_keeps_the_promise_and_says_the_order_is_predicted_late():
    promise = decide_promise(predicted=PROMISE + timedelta(seconds=1), promised_by=PROMISE,
                             on_overload="accept", cap_minutes=30)
    assert (promise.promised_by, promise.predicted_late, promise.refused) == (PROMISE, True, False)


def test_extend_adds_whole_minutes_enough_to_cover_the_prediction():
    promise = decide_promise(predicted=PROMISE + timedelta(minutes=7, seconds=1), promised_by=PROMISE,
                             on_overload="extend", cap_minutes=30)
    assert (promise.extended_minutes, promise.promised_by, promise.predicted_late) == (
        8, PROMISE + timedelta(minutes=8), False)


def test_extend_stops_at_the_cap_and_then_says_late():
    promise = decide_promise(predicted=PROMISE + timedelta(minutes=45), promised_by=PROMISE,
                             on_overload="extend", cap_minutes=30)
    assert (promise.extended_minutes, promise.predicted_late) == (30, True)


def test_refuse_turns_the_order_away():
    promise = decide_promise(predicted=PROMISE + timedelta(minutes=1), promised_by=PROMISE,
                             on_overload="refuse", cap_minutes=30)
    assert promise.refused and promise.promised_by == PROMISE


def test_the_margin_is_the_upper_quantile_of_the_zones_recent_errors():
    errors = PromiseErrors(window=100, quantile=0.9, min_samples=10)
    for e in range(9):
        errors.observe("west", 60.0 * e)
    assert errors.margin_s("west") == 0.0  # too few to say
    errors.observe("west", 540.0)
    assert errors.margin_s("west") == pytest.approx(486.0)  # numpy's linear 0.9 quantile of 0..540 s by 60
    assert errors.margin_s("east") == 0.0
    for _ in range(100):  # the window forgets
        errors.observe("west", -120.0)
    assert errors.margin_s("west") == 0.0  # early deliveries never shorten a promise
