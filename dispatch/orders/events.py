"""Order events as values: who did what to an order, and the cursor of the events feed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dispatch.errors import InvalidCursor
from dispatch.orders.lifecycle import ActorType

SYSTEM_ID = "dispatch"  # the actor id of what the service does by itself (rounds, sweeps)


@dataclass(frozen=True, slots=True)
class Actor:
    type: ActorType
    id: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type.value, "id": self.id}


SYSTEM = Actor(ActorType.SYSTEM, SYSTEM_ID)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: int
    order_id: str
    sequence: int  # 1, 2, 3… per order, no gaps
    type: str
    occurred_at: datetime  # the service clock
    actor: Actor
    reason: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "event_id": str(self.event_id),
            "order_id": self.order_id,
            "sequence": self.sequence,
            "type": self.type,
            "occurred_at": self.occurred_at.isoformat(),
            "actor": self.actor.as_json(),
            "reason": self.reason,
            "data": self.data,
        }


_CURSOR = re.compile(r"^(0|[1-9][0-9]{0,18})-(0|[1-9][0-9]{0,18})$")


@dataclass(frozen=True, slots=True, order=True)
class EventCursor:
    """Where a consumer of the feed stands: past every event at or before (txid, event_id).

    Events are read in the order of the transaction that wrote them, and only from transactions
    older than every one still running, so an event that commits late with a smaller id is
    still ahead of any cursor handed out before it became visible.
    """

    txid: int
    event_id: int

    def __str__(self) -> str:
        return f"{self.txid}-{self.event_id}"

    @classmethod
    def parse(cls, text: str) -> EventCursor:
        match = _CURSOR.match(text)
        if match is None:
            raise InvalidCursor(f"cursor {text[:40]!r} is not one this service handed out")
        txid, event_id = (int(g) for g in match.groups())
        if txid >= 2**63 or event_id >= 2**63:
            raise InvalidCursor(f"cursor {text[:40]!r} is out of range")
        return cls(txid, event_id)


START = EventCursor(0, 0)


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[OrderEvent, ...]
    next: EventCursor
