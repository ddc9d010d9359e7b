"""Where the database is: an explicit DATABASE_URL, or the embedded PostgreSQL (pgserver)."""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import functools
import signal
import time
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
STOP_TIMEOUT_S = 60.0


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
    atexit.register(_leave_embedded_server, users, server.pgdata)
    return server.get_uri()


def _leave_embedded_server(users: IO[str], pgdata: Path) -> None:
    """At exit: stop the server unless another process still holds the home's users lock."""
    with users:
        fcntl.flock(users, fcntl.LOCK_UN)
        try:
            fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another process still uses this home: it stops the server when it leaves
        _stop_server(pgdata)


def _stop_server(pgdata: Path) -> None:
    """A fast shutdown of the server of ``pgdata``, waited for: SIGINT to its postmaster, what
    ``pg_ctl -m fast stop`` sends. (Run as root, pg_ctl itself runs as the server's user, who
    may no longer be allowed into a folder above ``pgdata``.)"""
    import psutil
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata)
    if info is None or info.process is None or not info.is_running():
        return  # already stopped
    try:
        if str(pgdata) not in info.process.cmdline():
            return  # a stale pid file: that pid is another process now
        info.process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        # not Process.wait(): the postmaster is not our child, and a zombie would count as alive
        while info.process.is_running() and info.process.status() != psutil.STATUS_ZOMBIE:
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL under {pgdata} did not stop in {STOP_TIMEOUT_S} s")
            time.sleep(0.02)
    except psutil.NoSuchProcess:
        return  # it stopped


def resolve_database_url(database_url: str | None, home: Path) -> str:
    return database_url or embedded_database_url(home)


def application_name(role: str) -> str:
    """What a process of ``role`` (all, api, dispatcher, relay) calls its database sessions."""
    return f"flashdispatch-{role}"


async def create_pool(
    url: str, *, max_size: int = 10, application_name: str = "flashdispatch"
) -> asyncpg.Pool:
    """A pool whose sessions keep plans generic (cheap repeated statements on the hot path) and
    say which process they serve (``application_name``, as ``pg_stat_activity`` shows it)."""
    return await asyncpg.create_pool(
        url,
        min_size=1,
        max_size=max_size,
        server_settings={"plan_cache_mode": "force_generic_plan", "timezone": "UTC",
                         "application_name": application_name},
        command_timeout=30,
    )
