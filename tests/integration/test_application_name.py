"""The service's database sessions say which process they serve, as pg_stat_activity shows them
(operators tell the API's load from the dispatcher's; bench load splits PostgreSQL's CPU by it)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.postgres.database import application_name
from tests.conftest import bearer


async def test_each_role_names_its_sessions(aiohttp_client, db, database_url, road_network, clock, settings):
    for role in ("api", "dispatcher"):
        app = create_app(settings, clock=clock, registry=CollectorRegistry(), database_url=database_url,
                         road_network=road_network, run_dispatch_loop=False, run_relay=False, role=role)
        client = await aiohttp_client(app)
        response = await client.get("/readyz", headers=bearer(settings.operator_token))
        assert response.status == 200
        names = {r[0] for r in await db.fetch(
            "SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name LIKE 'flashdispatch-%'")}
        assert application_name(role) in names, names
        await client.close()
