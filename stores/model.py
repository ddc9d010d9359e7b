"""Stores as front warehouses: the values that describe a shop and its stock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class OpeningWindow:
    """One line of opening hours: on these weekdays (0 = Monday), from open to close (local)."""

    days: frozenset[int]
    opens: time
    closes: time

    def contains(self, local: datetime) -> bool:
        if self.opens <= self.closes:
            return local.weekday() in self.days and self.opens <= local.time() < self.closes
        # past midnight: 22:00-02:00 belongs to the day it opened
        if local.weekday() in self.days and local.time() >= self.opens:
            return True
        yesterday = (local.weekday() - 1) % 7
        return yesterday in self.days and local.time() < self.closes


STORE_STATES = ("online", "busy", "paused")


@dataclass(frozen=True, slots=True)
class StoreStatus:
    """What the store (or an operator) says of it now: ``busy`` slows every pick by
    ``extra_pick_minutes``; ``paused`` takes no new order; both end at ``until``."""

    state: str = "online"
    extra_pick_minutes: float = 0.0
    until: datetime | None = None
    reason: str | None = None
    since: datetime | None = None


ONLINE = StoreStatus()


@dataclass(frozen=True, slots=True)
class Store:
    store_id: str
    name: str
    lat: float
    lon: float
    zone: str
    pick_minutes: float
    radius_minutes: float
    opening_hours: tuple[OpeningWindow, ...] | None
    stock_version: int
    status: StoreStatus = ONLINE

    @property
    def accepts_orders(self) -> bool:
        return self.status.state != "paused"

    @property
    def effective_pick_minutes(self) -> float:
        """Pick time with a busy store's extra minutes."""
        extra = self.status.extra_pick_minutes if self.status.state == "busy" else 0.0
        return self.pick_minutes + extra

    def is_open(self, at: datetime, tz: ZoneInfo) -> bool:
        """Absent opening hours mean always open."""
        if self.opening_hours is None:
            return True
        local = at.astimezone(tz)
        return any(window.contains(local) for window in self.opening_hours)


@dataclass(frozen=True, slots=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return max(0, self.on_hand - self.reserved)

    @property
    def shortfall(self) -> int:
        return max(0, self.reserved - self.on_hand)


@dataclass(frozen=True, slots=True)
class StockChange:
    """One PATCH line: either a relative delta or an absolute quantity."""

    sku: str
    delta: int | None = None
    quantity: int | None = None


@dataclass(frozen=True, slots=True)
class SyncResult:
    store_id: str
    version: int
    skus: int
    shortfalls: tuple[StockLevel, ...]
    # the new availability of the SKUs touched, for the in-memory view
    available: dict[str, int] | None = None


def parse_days(text: str) -> frozenset[int]:
    """'mon-fri', 'sat', 'mon,wed,fri', 'daily' → weekday numbers; ValueError if unknown."""
    text = text.strip().lower()
    if text in ("daily", "all", "mon-sun"):
        return frozenset(range(7))
    days: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            first, last = (DAYS.index(p.strip()) for p in part.split("-", 1))
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            days.update(span)
        else:
            days.add(DAYS.index(part))
    return frozenset(days)
