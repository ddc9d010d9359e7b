"""What intake promises when the honest prediction is past the half hour (pure).

The zone's ``on_overload`` decides: ``accept`` keeps the promise and says the order is
predicted late; ``extend`` lengthens it by the whole minutes needed, up to a cap; ``refuse``
turns the order away (409 ``over_capacity``) before anything is reserved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta


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
