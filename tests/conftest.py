"""Shared fixtures: a real PostgreSQL (embedded unless DATABASE_URL is set), the bundled road
network loaded once, and a real HTTP client against a fresh app per test."""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.clock import VirtualClock
from dispatch.postgres.migrate import apply_migrations
from dispatch.postgres.scratch import create_database, drop_database, scratch_name
from dispatch.settings import Settings, bundled_road_network

ROOT = Path(__file__).resolve().parent.parent
OPERATOR_TOKEN = "test-operator-" + "x" * 32
# Monday 2026-11-23 11:00 in Shanghai: inside the lunch hours of every test store.
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)

TABLES = (
    "order_events, order_lines, orders, routes, courier_positions, couriers, stock_syncs, stock,"
    " stores, tokens, zone_modes, operator_actions, webhook_endpoints, webhook_deliveries"
)


# Every test that writes orders leaves each order's events numbered 1..n, n = orders.event_seq.
GAPS = (
    "SELECT o.order_id, o.event_seq, count(e.event_id) AS n, min(e.sequence) AS first, max(e.sequence) AS last"
    " FROM orders o LEFT JOIN order_events e USING (order_id) GROUP BY o.order_id, o.event_seq"
    " HAVING o.event_seq <> count(e.event_id) OR coalesce(max(e.sequence), 0) <> count(e.event_id)"
    " OR coalesce(min(e.sequence), 1) <> 1"
)


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from dispatch.postgres.database import embedded_database_url

    return embedded_database_url(ROOT / ".flashdispatch" / "test")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test session, migrated once."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = _server_url()
    name = scratch_name("fd_test")

    async def create() -> str:
        url = await create_database(server, name)
        conn = await asyncpg.connect(url)
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()
        return url

    url = asyncio.run(create())
    yield url
    asyncio.run(drop_database(server, name))


@pytest.fixture(scope="session")
def road_network():
    from geo.loading import load_road_network

    return load_road_network(bundled_road_network(), cache_dir=ROOT / ".flashdispatch" / "cache")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the (emptied) test database, to check what was written."""
    conn = await asyncpg.connect(database_url)
    await conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    try:
        yield conn
        broken = await conn.fetch(GAPS)
        assert not broken, f"event logs with gaps or a wrong last number: {[dict(r) for r in broken][:5]}"
    finally:
        await conn.close()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock(T0)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path, operator_token=OPERATOR_TOKEN)


@pytest.fixture
async def client(aiohttp_client, db, database_url, road_network, clock, settings):
    """A real HTTP client (127.0.0.1) on a fresh app over the emptied database; no loop or relay task."""
    app = create_app(
        settings,
        clock=clock,
        registry=CollectorRegistry(),
        database_url=database_url,
        road_network=road_network,
        run_dispatch_loop=False,
        run_relay=False,
    )
    return await aiohttp_client(app)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


OPERATOR = bearer(OPERATOR_TOKEN)


async def make_token(client, role: str, **scope: str) -> dict[str, str]:
    response = await client.post("/v1/tokens", json={"role": role, **scope}, headers=OPERATOR)
    assert response.status == 201, await response.text()
    return bearer((await response.json())["token"])
