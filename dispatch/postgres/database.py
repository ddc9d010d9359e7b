"""Where the database is: an explicit DATABASE_URL, or the embedded PostgreSQL (pgserver)."""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import functools
import subprocess
import warnings
from pathlib import Path
from typing import IO

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
# held (shared) by every process using a home's embedded server; see embedded_database_url
USERS_LOCK = "pgdata.users"


def embedded_database_url(home: Path) -> str:
    """Start (or join) the embedded PostgreSQL under ``home/pgdata`` and return its URL.

    Every process that uses the same home shares one server. Each holds a shared lock on
    ``home/pgdata.users`` while it lives; at exit the last one out (the only one able to take
    the lock exclusively) stops the server. A process killed with SIGKILL loses its lock with it,
    so it never keeps a server alive.
    """
    home.mkdir(parents=True, exist_ok=True)
    return _join_embedded_server(home.resolve())


@functools.cache
def _join_embedded_server(home: Path) -> str:
    """This process's use of the server under ``home``: joined once, left at exit."""
    users = (home / USERS_LOCK).open("a")
    try:
        # blocks while the last user of a moment ago is still stopping the server
        fcntl.flock(users, fcntl.LOCK_SH)
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on import; harmless here.
            warnings.simplefilter("ignore")
            import pgserver

            # pgserver's own cleanup counts users in a file that a killed process never leaves,
            # so it is off: _leave_embedded_server decides by the lock instead.
            server = pgserver.get_server(home / "pgdata", cleanup_mode=None)
    except BaseException:
        users.close()
        raise
    atexit.register(_leave_embedded_server, users, server.pgdata, server.system_user)
    return server.get_uri()


def _leave_embedded_server(users: IO[str], pgdata: Path, system_user: str | None) -> None:
    """At exit: stop the server unless another process still holds the home's users lock."""
    with users:
        fcntl.flock(users, fcntl.LOCK_UN)
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process still uses this home: it stops the server when it leaves
        from pgserver._commands import POSTGRES_BIN_PATH

        subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-w", "-m", "fast", "stop"],
            user=system_user, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60, check=False,
        )  # a server already stopped (someone ran pg_ctl by hand) is fine: nothing to do


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
