"""Zone leases: each zone is dispatched by exactly one process, held by a PostgreSQL advisory lock.

The locks live on one dedicated connection; if the process dies, PostgreSQL drops the
connection and its locks, and another process's next round takes the zones over.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterable

import asyncpg

log = logging.getLogger("flashdispatch.lease")
LOCK_CLASS = 0x46_44  # "FD": the first key of every zone lock


class ZoneLease:
    def __init__(self, database_url: str) -> None:
        self._url = database_url
        self._conn: asyncpg.Connection | None = None
        self.held: set[str] = set()
        self._lock = asyncio.Lock()

    async def claim(self, zones: Iterable[str]) -> set[str]:
        """Try to take every zone not yet held; returns the zones this process owns now."""
        async with self._lock:
            return await self._claim(zones)

    async def _claim(self, zones: Iterable[str]) -> set[str]:
        try:
            if self._conn is None or self._conn.is_closed():
                self.held.clear()
                self._conn = await asyncpg.connect(
                    self._url,
                    timeout=5,
                    # operators (and the fault suite) see in pg_stat_activity who holds a zone
                    server_settings={"application_name": f"flashdispatch-lease-{os.getpid()}"},
                )
            for zone in sorted(set(zones) - self.held):
                got = await self._conn.fetchval(
                    "SELECT pg_try_advisory_lock($1, hashtext($2))", LOCK_CLASS, zone
                )
                if got:
                    log.info("took the dispatch lease of zone %s", zone)
                    self.held.add(zone)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            log.warning("zone lease connection lost: %s", exc)
            await self.close()
        return set(self.held)

    async def close(self) -> None:
        self.held.clear()
        if self._conn is not None and not self._conn.is_closed():
            try:
                await self._conn.close(timeout=2)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError):
                self._conn.terminate()
        self._conn = None
