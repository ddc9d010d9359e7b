"""Where the database is: an explicit DATABASE_URL, or the embedded PostgreSQL (pgserver)."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path

import asyncpg

# Connection-class failures: the database cannot be reached right now (retry later). A
# constraint violation or an SQL bug is not one of these.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def embedded_database_url(home: Path) -> str:
    """Start (or join) the embedded PostgreSQL under ``home/pgdata`` and return its URL.

    Every process that uses the same home shares one server; pgserver keeps it running while
    any process holds it.
    """
    home.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on import; harmless here.
        warnings.simplefilter("ignore")
        import pgserver

        server = pgserver.get_server(home.resolve() / "pgdata", cleanup_mode=None)
    return server.get_uri()


def resolve_database_url(database_url: str | None, home: Path) -> str:
    return database_url or embedded_database_url(home)


async def create_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose sessions keep plans generic (cheap repeated statements on the hot path)."""
    return await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max_size,
        server_settings={"plan_cache_mode": "force_generic_plan", "timezone": "UTC"},
        command_timeout=30,
    )
