"""The service under test: started in-process on 127.0.0.1 over a scratch database."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import secrets
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg
from aiohttp import web

from dispatch.postgres.scratch import scratch_database as scratch
from dispatch.settings import Settings

if TYPE_CHECKING:
    from geo.network import RoadNetwork

BENCH_HOST = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class RunningService:
    """A started service: where it listens, its database, and an operator token."""

    base_url: str
    database_url: str
    operator_token: str
    app: web.Application


def _server_url(settings: Settings) -> str:
    from dispatch.postgres.database import resolve_database_url

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pgserver's platformdirs warning on import
        return resolve_database_url(settings.database_url, settings.home)


@contextlib.asynccontextmanager
async def scratch_database(settings: Settings) -> AsyncIterator[str]:
    """A fresh, empty database on the configured server, dropped afterwards (user data untouched)."""
    server = await asyncio.to_thread(_server_url, settings)
    async with scratch(server, "fd_bench") as url:
        yield url


@contextlib.asynccontextmanager
async def _database(settings: Settings, url: str | None) -> AsyncIterator[str]:
    if url is not None:
        yield url
        return
    async with scratch_database(settings) as scratch_url:
        yield scratch_url


async def database_setting(url: str, name: str) -> str:
    """A server setting as a session of the service sees it (e.g. ``synchronous_commit``)."""
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT current_setting($1)", name)
    finally:
        await conn.close()


async def _set_database(url: str, name: str, value: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        database = await conn.fetchval("SELECT current_database()")
        await conn.execute(f'ALTER DATABASE "{database}" SET {name} = {value}')
    finally:
        await conn.close()


async def _listen(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, BENCH_HOST, 0, backlog=1024)
    await site.start()
    host, port = runner.addresses[0][:2]
    return runner, f"http://{host}:{port}"


@contextlib.asynccontextmanager
async def running_service(
    settings: Settings,
    *,
    road_network: RoadNetwork | None = None,
    run_dispatch_loop: bool = False,
    pool_max_size: int | None = None,
    synchronous_commit: str = "on",
    database_url: str | None = None,
) -> AsyncIterator[RunningService]:
    """create_app on a scratch database (or on ``database_url``, left as it is afterwards),
    served by an AppRunner on a random free port."""
    from prometheus_client import CollectorRegistry

    from dispatch.app import create_app

    token = "bench-operator-" + secrets.token_urlsafe(32)
    async with _database(settings, database_url) as url:
        if synchronous_commit != "on":
            await _set_database(url, "synchronous_commit", synchronous_commit)
        service_settings = dataclasses.replace(
            settings,
            database_url=url,
            operator_token=token,
            pool_max_size=pool_max_size or settings.pool_max_size,
        )
        app = create_app(
            service_settings,
            registry=CollectorRegistry(),
            database_url=url,
            road_network=road_network,
            run_dispatch_loop=run_dispatch_loop,
        )
        runner, base_url = await _listen(app)
        try:
            yield RunningService(base_url, url, token, app)
        finally:
            await runner.cleanup()


async def _noop(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(status=201, body=b"{}", content_type="application/json")


@contextlib.asynccontextmanager
async def running_noop() -> AsyncIterator[str]:
    """A do-nothing aiohttp handler on every path: the raw ceiling of this process."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _noop)
    runner, base_url = await _listen(app)
    try:
        yield base_url
    finally:
        await runner.cleanup()


async def backend_cpu_s(url: str) -> float:
    """CPU seconds used so far by the server processes of this database's sessions (Linux /proc)."""
    return sum((await backend_cpu_by_application(url)).values())


async def backend_cpu_by_application(url: str) -> dict[str, float]:
    """The same, per ``application_name`` of the sessions (the service's pools name their role)."""
    import os as _os

    conn = await asyncpg.connect(url)
    try:
        sessions = await conn.fetch(
            "SELECT pid, application_name FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    ticks = _os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for row in sessions:
        try:
            with open(f"/proc/{row['pid']}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # not on Linux, or the backend is gone
        name = row["application_name"] or "other"
        totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return totals
