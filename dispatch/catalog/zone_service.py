"""Zone modes as the API and the round use them: set, clear, expire, and the in-memory copy."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from dispatch.catalog.zones import ZoneMode, ZoneModeKeeper, ZoneModes
from dispatch.orders.events import Actor


class ZoneModeRecords(Protocol):
    async def set_mode(self, mode: ZoneMode, *, actor: Actor, now: datetime) -> tuple[ZoneMode, bool]: ...

    async def clear(self, zone: str, *, actor: Actor, reason: str, now: datetime) -> bool: ...

    async def expire(self, *, now: datetime) -> list[str]: ...

    async def modes(self) -> list[ZoneMode]: ...


class ZoneObserver(Protocol):
    def operator_action(self, action: str) -> None: ...

    def zone_modes(self, modes: Mapping[str, ZoneMode]) -> None: ...


class ZoneModeService:
    def __init__(self, *, records: ZoneModeRecords, keeper: ZoneModeKeeper, metrics: ZoneObserver) -> None:
        self.records = records
        self.keeper = keeper
        self.metrics = metrics

    async def set_mode(self, mode: ZoneMode, *, actor: Actor, now: datetime) -> ZoneMode:
        saved, changed = await self.records.set_mode(mode, actor=actor, now=now)
        if changed:
            self.metrics.operator_action("zone_mode")
        await self.reload()
        return saved

    async def clear(self, zone: str, *, actor: Actor, reason: str, now: datetime) -> bool:
        cleared = await self.records.clear(zone, actor=actor, reason=reason, now=now)
        if cleared:
            self.metrics.operator_action("zone_mode_cleared")
        await self.reload()
        return cleared

    async def refresh(self, *, now: datetime) -> list[str]:
        """End the modes whose time is up and load the rest (also those set by other processes)."""
        ended = await self.records.expire(now=now)
        await self.reload()
        return ended

    async def reload(self) -> None:
        self.keeper.replace(ZoneModes.of(await self.records.modes()))
        self.metrics.zone_modes(self.keeper.current.by_zone)
