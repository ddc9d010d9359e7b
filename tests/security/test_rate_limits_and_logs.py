"""Per-token rate limits (429 + Retry-After), body limits, structured logs without secrets,
and drop-off retention."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

from dispatch.app import create_app
from dispatch.http.rate_limit import TokenBucket
from dispatch.keys import SERVICES
from dispatch.logs import ContextFilter, JsonFormatter
from dispatch.settings import Policy, RateLimits, Settings, SettingsError
from tests.conftest import OPERATOR, OPERATOR_TOKEN, make_token
from tests.e2e.test_orders_api import add_store, layout, order, point  # noqa: F401  (fixture)


@pytest.fixture
async def limited(aiohttp_client, db, database_url, road_network, clock, tmp_path):
    settings = Settings(home=tmp_path, operator_token=OPERATOR_TOKEN, log_requests="all",
                        rate_limits=RateLimits(orders_per_s=1, orders_burst=3, positions_per_s=1, positions_burst=2))
    app = create_app(settings, clock=clock, registry=CollectorRegistry(), database_url=database_url,
                     road_network=road_network, run_dispatch_loop=False)
    return await aiohttp_client(app)


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    bucket = TokenBucket(2, 2, monotonic=lambda: now[0])
    assert [bucket.take("t") for _ in range(3)] == [0.0, 0.0, 0.5]
    now[0] += 0.5
    assert bucket.take("t") == 0.0 and bucket.take("other") == 0.0


def test_rate_limit_settings_come_from_the_environment():
    settings = Settings.from_env({"FLASHDISPATCH_RATE_LIMIT_ORDERS_PER_S": "5",
                                  "FLASHDISPATCH_DROPOFF_RETENTION_DAYS": "7"})
    assert settings.rate_limits.orders_per_s == 5 and settings.rate_limits.positions_burst == 4000
    assert settings.policy.dropoff_retention_days == 7
    with pytest.raises(SettingsError, match="FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S"):
        Settings.from_env({"FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S": "0"})
    with pytest.raises(SettingsError, match="FLASHDISPATCH_LOG_REQUESTS"):
        Settings.from_env({"FLASHDISPATCH_LOG_REQUESTS": "loud"})


async def test_order_flood_gets_429_with_retry_after_per_token(limited, db, road_network, layout):  # noqa: F811
    await add_store(limited, road_network, "s1", layout["near"], {"milk": 100})
    flooder = await make_token(limited, "order_system")
    other = await make_token(limited, "order_system")
    statuses = []
    for i in range(6):
        response = await limited.post("/v1/orders", json=order(f"f{i}", road_network, layout["drop"], milk=1),
                                      headers=flooder)
        statuses.append(response.status)
        if response.status == 429:
            body = await response.json()
            assert body["error"] == "rate_limited" and body["detail"]
            assert int(response.headers["Retry-After"]) >= 1
    assert statuses[:3] == [201, 201, 201] and 429 in statuses[3:]
    assert await db.fetchval("SELECT count(*) FROM orders") == statuses.count(201)  # a 429 writes nothing
    # another token has its own budget; reads are not limited
    assert (await limited.post("/v1/orders", json=order("g1", road_network, layout["drop"], milk=1),
                               headers=other)).status == 201
    assert (await limited.get("/v1/orders/f0", headers=flooder)).status == 200


async def test_position_flood_gets_429(limited, road_network, layout):  # noqa: F811
    assert (await limited.put("/v1/couriers/c1", json={"name": "c1", "zone": "nanshan"}, headers=OPERATOR)).status == 201
    token = await make_token(limited, "courier", courier_id="c1")
    statuses = [(await limited.post("/v1/couriers/c1/positions", json={"positions": [point(road_network, 1)]},
                                    headers=token)).status for _ in range(5)]
    assert statuses[:2] == [202, 202] and statuses[-1] == 429


async def test_body_limits_answer_413(client):
    big = b'{"order_id": "x", "pad": "' + b"a" * (70 * 1024) + b'"}'
    response = await client.post("/v1/orders", data=big, headers={**OPERATOR, "Content-Type": "application/json"})
    assert response.status == 413 and (await response.json())["error"] == "body_too_large"
    huge = io.BytesIO(b"a" * (41 * 1024 * 1024))
    response = await client.put("/v1/stores/s1/stock", data=huge, headers={**OPERATOR, "Content-Type": "application/json"})
    assert response.status == 413 and (await response.json())["error"] == "body_too_large"


async def test_logs_are_json_with_request_and_order_ids_and_no_secrets(limited, road_network, layout, caplog):  # noqa: F811
    caplog.handler.addFilter(ContextFilter())
    caplog.handler.setFormatter(JsonFormatter())
    await add_store(limited, road_network, "s1", layout["near"], {"milk": 1})
    system = await make_token(limited, "order_system")
    secret = system["Authorization"].split()[1]
    with caplog.at_level(logging.INFO):
        response = await limited.post("/v1/orders", json=order("log-1", road_network, layout["drop"], milk=5),
                                      headers={**system, "X-Request-Id": "req-abc"})
        assert response.status == 409 and response.headers["X-Request-Id"] == "req-abc"
        await limited.get("/v1/orders/log-1", headers={"Authorization": "Bearer " + secret[:-1] + "Z"})
        await limited.post("/v1/tokens", json={"role": "operator"}, headers=OPERATOR)
    lines = [caplog.handler.format(r) for r in caplog.records]
    entries = [json.loads(line) for line in lines]
    text = "\n".join(lines)
    assert secret not in text and OPERATOR_TOKEN not in text and secret[:-1] not in text
    assert "Authorization" not in text and "Bearer" not in text
    refused = [e for e in entries if e.get("route") == "/v1/orders" and e.get("status") == 409]
    assert refused and refused[0]["request_id"] == "req-abc" and refused[0]["order_id"] == "log-1"
    assert any(e.get("status") == 401 and len(e.get("request_id", "")) == 32 for e in entries)


async def test_dropoff_coordinates_are_erased_after_retention(client, db, road_network, layout, clock):  # noqa: F811
    await add_store(client, road_network, "s1", layout["near"], {"milk": 10})
    await add_store(client, road_network, "s2", layout["far"], {"tea": 10})
    system = await make_token(client, "order_system")
    # "old" is split across both stores: its second leg keeps a copy of the address too
    for order_id, items in (("old", {"milk": 1, "tea": 1}), ("open", {"milk": 1})):
        body = {**order(order_id, road_network, layout["drop"], **items), "allow_split": True}
        assert (await client.post("/v1/orders", json=body, headers=system)).status == 201
    assert (await client.post("/v1/orders/old/cancel", headers=system)).status == 200
    loop = client.app[SERVICES].dispatcher
    retention_days = Policy().dropoff_retention_days
    clock.advance(timedelta(days=retention_days).total_seconds() - 60)
    assert (await loop.tick()).erased_dropoffs == 0
    clock.advance(120)
    assert (await loop.tick()).erased_dropoffs is None  # not due yet: at most every few minutes
    clock.advance(Policy().retention_interval_s)
    assert (await loop.tick()).erased_dropoffs == 1
    rows = {r["order_id"]: r for r in await db.fetch("SELECT order_id, drop_lat, drop_lon, drop_node FROM orders")}
    assert rows["old"]["drop_lat"] is None and rows["old"]["drop_lon"] is None
    assert rows["old/2"]["drop_lat"] is None and rows["old/2"]["drop_lon"] is None
    assert rows["old"]["drop_node"] is not None
    assert rows["open"]["drop_lat"] is not None  # an open order keeps its address
    got = await (await client.get("/v1/orders/old", headers=system)).json()
    assert got["drop_off"] is None and got["status"] == "cancelled"
