"""What the dispatch round needs from storage, the zone leases and metrics (implemented elsewhere)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from dispatch.couriers.model import CourierRow, OpenOrderRow, RouteCommit


class RoundState(Protocol):
    """The open world a round reads, and the decisions it writes (each write is conditional)."""

    async def open_orders(self, zones: Sequence[str]) -> list[OpenOrderRow]: ...

    async def couriers(self, zones: Sequence[str]) -> list[CourierRow]: ...

    async def couriers_zones(self) -> list[str]: ...

    async def recent_demand(self, zones: Sequence[str], *, since: datetime) -> dict[str, int]: ...

    async def stores_signature(self) -> tuple[int, object]: ...

    async def commit_route(self, route: RouteCommit, *, now: datetime) -> int | None:
        """The new route's id, or None when a claim was lost (nothing written)."""
        ...

    async def update_predictions(
        self, order_ids: Sequence[str], predicted: Sequence[datetime], *, now: datetime
    ) -> int: ...

    async def set_repositions(self, idle: Sequence[str], targets: dict[str, int]) -> None: ...

    async def sweep_late(self, *, now: datetime) -> list[str]: ...

    async def fail_unserved(
        self, *, now: datetime, placed_before: datetime
    ) -> list[tuple[str, str | None]]: ...


class SilentCouriers(Protocol):
    async def release_silent(self, courier_ids: Sequence[str], *, now: datetime) -> list[str]:
        """Hand the unpicked orders of couriers that stopped reporting back to dispatch."""
        ...


class ZoneClaims(Protocol):
    async def claim(self, zones: Iterable[str]) -> set[str]:
        """The zones this process dispatches now."""
        ...


class Retention(Protocol):
    async def run_if_due(self, now: datetime) -> int | None: ...


class HeldOrders(Protocol):
    async def release_expired(self, *, now: datetime) -> list[str]:
        """Holds whose end has passed go back to dispatch; their order ids."""
        ...


class StoreStatusRefresh(Protocol):
    async def refresh_statuses(self, *, now: datetime) -> list[str]:
        """End store statuses whose time is up and load every store's current status."""
        ...


class ZoneModeRefresh(Protocol):
    async def refresh(self, *, now: datetime) -> list[str]:
        """End zone modes whose time is up and load the current ones."""
        ...


class RoundObserver(Protocol):
    def outcome(self, zone: str, outcome: str) -> None: ...

    def route_committed(self, zone: str) -> None: ...

    def round_finished(self, zones: Iterable[str], *, duration_s: float, finished_at: float) -> None: ...

    def zone_state(
        self, zone: str, *, in_flight: Mapping[str, int], at_risk: int, couriers: Mapping[str, int]
    ) -> None: ...

    def zone_released(self, zone: str) -> None: ...

    def store_statuses(self, counts: Mapping[str, int]) -> None: ...
