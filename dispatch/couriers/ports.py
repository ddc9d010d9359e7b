"""What the courier flow needs from storage and metrics (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from dispatch.couriers.model import ActiveRoute, Courier, Delivery, RouteOrder


class CourierRecords(Protocol):
    async def upsert(
        self, courier_id: str, *, name: str, zone: str, capacity: int, now: datetime
    ) -> tuple[Courier, bool]: ...

    async def get(self, courier_id: str) -> Courier: ...

    async def set_shift(
        self, courier_id: str, *, on: bool, lat: float, lon: float, ends_at: datetime | None, now: datetime
    ) -> tuple[Courier, list[str]]: ...

    async def add_positions(
        self, courier_id: str, positions: Sequence[tuple[float, float, datetime]]
    ) -> Courier: ...

    async def active_route(self, courier_id: str) -> ActiveRoute | None: ...

    async def route_orders(self, route_id: int) -> list[RouteOrder]: ...

    async def reject(self, courier_id: str, order_id: str, *, now: datetime) -> list[str]: ...

    async def arrived_store(self, courier_id: str, order_id: str, *, now: datetime) -> None: ...

    async def picked_up(
        self, courier_id: str, order_id: str, *, now: datetime
    ) -> tuple[str, list[tuple[str, int]], bool]: ...

    async def delivered(self, courier_id: str, order_id: str, *, now: datetime) -> Delivery: ...


class CourierObserver(Protocol):
    def ensure_zone(self, zone: str) -> None: ...

    def outcome(self, zone: str, outcome: str) -> None: ...

    def delivered(self, zone: str, delivery_s: float) -> None: ...

    def promise_error_observed(self, zone: str, error_s: float) -> None: ...
