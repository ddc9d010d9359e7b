"""What intake promises when the honest prediction is past the half hour (pure).

The zone's ``on_overload`` decides: ``accept`` keeps the promise and says the order is
predicted late; ``extend`` lengthens it by the whole minutes needed, up to a cap; ``refuse``
turns the order away (409 ``over_capacity``) before anything is reserved.

The decision compares the promise with the prediction plus a margin: the upper quantile of the
zone's recent errors (delivered − predicted). The prediction itself stays unbiased (it is what the
201 answer says); the margin is what a promise must leave for the prediction's spread, so that
"extend" and "refuse" keep the promises they make when the zone is overloaded and spreads grow.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np


@dataclass(frozen=True, slots=True)
class Promise:
    promised_by: datetime
    extended_minutes: int  # added because of the overload (beyond any zone extension)
    predicted_late: bool
    refused: bool


def decide_promise(
    *, predicted: datetime, promised_by: datetime, on_overload: str, cap_minutes: int
) -> Promise:
    if predicted <= promised_by:
        return Promise(promised_by, 0, False, False)
    if on_overload == "refuse":
        return Promise(promised_by, 0, True, True)
    if on_overload == "extend":
        needed = math.ceil((predicted - promised_by).total_seconds() / 60)
        minutes = min(needed, cap_minutes)
        extended = promised_by + timedelta(minutes=minutes)
        return Promise(extended, minutes, predicted > extended, False)
    return Promise(promised_by, 0, True, False)


class PromiseErrors:
    """The last ``window`` errors (delivered − predicted at intake, seconds) of each zone."""

    def __init__(self, *, window: int = 200, quantile: float = 0.95, min_samples: int = 30) -> None:
        self.window = window
        self.quantile = quantile
        self.min_samples = min_samples
        self._errors: dict[str, deque[float]] = {}
        self._margins: dict[str, float] = {}  # per zone, until its next error: intake asks per order

    def observe(self, zone: str, error_s: float) -> None:
        self._errors.setdefault(zone, deque(maxlen=self.window)).append(error_s)
        self._margins.pop(zone, None)

    def margin_s(self, zone: str) -> float:
        """What a promise in ``zone`` must leave beyond the prediction: the upper quantile of its
        recent errors, never negative; 0 until there are ``min_samples`` of them."""
        margin = self._margins.get(zone)
        if margin is None:
            errors = self._errors.get(zone)
            if errors is None or len(errors) < self.min_samples:
                margin = 0.0
            else:
                margin = max(0.0, float(np.quantile(np.fromiter(errors, float), self.quantile)))
            self._margins[zone] = margin
        return margin
