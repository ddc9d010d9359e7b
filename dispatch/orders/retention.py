"""Data retention: customer drop-off coordinates are kept only as long as the policy says."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from dispatch.orders.ports import DropoffEraser

log = logging.getLogger("flashdispatch.retention")


class DropoffRetention:
    """Erases the drop-off coordinates of orders closed longer ago than ``retention_days``,
    at most once every ``interval_s`` (the dispatch loop calls :meth:`run_if_due` every round)."""

    def __init__(
        self, repository: DropoffEraser, *, retention_days: float, interval_s: float
    ) -> None:
        self._repository = repository
        self.retention = timedelta(days=retention_days)
        self.interval = timedelta(seconds=interval_s)
        self._last_run: datetime | None = None

    async def run_if_due(self, now: datetime) -> int | None:
        """Purge if the interval has passed; the number of orders erased, or None if not due."""
        if self._last_run is not None and now - self._last_run < self.interval:
            return None
        erased = await self._repository.erase_dropoffs(closed_before=now - self.retention)
        self._last_run = now
        if erased:
            log.info("erased the drop-off coordinates of %d closed orders", erased)
        return erased
