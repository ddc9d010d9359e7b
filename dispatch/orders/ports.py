"""What order intake and order changes need from storage and metrics (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from dispatch.orders.events import Actor
from dispatch.orders.model import Order, Placement, PlaceResult

if TYPE_CHECKING:
    from dispatch.orders.legs import LegPlan


class Placements(Protocol):
    async def place(self, placement: Placement) -> PlaceResult:
        """Claim the id, reserve every line and record the order, atomically."""
        ...


class OrderRecords(Protocol):
    async def find_answer(self, order_id: str) -> PlaceResult | None:
        """The answer an order id was given, if it was placed."""
        ...

    async def availability(self, store_id: str, skus: Sequence[str]) -> dict[str, int]: ...

    async def availability_many(
        self, store_ids: Sequence[str], skus: Sequence[str]
    ) -> dict[str, dict[str, int]]: ...

    async def cancel(
        self, order_id: str, *, now: datetime, actor: Actor, reason: str | None = None
    ) -> tuple[Order, str | None, bool]:
        """Cancel once; (order, outcome newly set, changed)."""
        ...

    async def place_split(self, placement: Placement, second: LegPlan) -> PlaceResult:
        """Place the order's first leg and its second, atomically: both hold or neither does."""
        ...


class DropoffEraser(Protocol):
    async def erase_dropoffs(self, *, closed_before: datetime) -> int: ...


class OrderObserver(Protocol):
    def order_placed(self, zone: str) -> None: ...

    def order_refused(self, reason: str) -> None: ...

    def reservation_failed(self, reason: str) -> None: ...

    def promise_extended(self, zone: str) -> None: ...

    def order_split(self, zone: str) -> None: ...

    def outcome(self, zone: str, outcome: str) -> None: ...
