"""Where the database's write-ahead log stands: what a stretch of work wrote to it.

Every commit waits for the log ahead of it to reach the disk, so the bytes other work writes (a
round's predictions) are time the API's commits wait; a benchmark reads the position before and
after a phase to show it.
"""

from __future__ import annotations

import asyncpg


async def wal_position(database_url: str) -> int:
    """Bytes of WAL written since the cluster began (differences are what a phase wrote)."""
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    finally:
        await conn.close()
