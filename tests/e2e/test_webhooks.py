"""Webhooks through real HTTP and PostgreSQL: the operator API, and the relay delivering the event
log to real receivers on 127.0.0.1 that verify every delivery with the PyPI `standardwebhooks`."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from dispatch.app import create_app
from dispatch.keys import METRICS, POOL, SERVICES
from dispatch.settings import WebhookSettings
from dispatch.sim.webhook_receiver import WebhookReceiver
from dispatch.webhooks.model import SendResult
from dispatch.webhooks.signing import signed_headers
from tests.conftest import OPERATOR, T0, make_token
from tests.e2e.test_orders_api import add_store, layout, order  # noqa: F401  (fixture)
from tests.webhook_world import append, in_order, relay_for, seed_orders


@pytest.fixture
async def hooks(aiohttp_client, db, database_url, road_network, clock, settings):
    """The app with FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE=1 (receivers live on 127.0.0.1); no relay task."""
    settings = dataclasses.replace(settings, webhooks=WebhookSettings(allow_private=True, timeout_s=2.0))
    app = create_app(settings, clock=clock, registry=CollectorRegistry(), database_url=database_url,
                     road_network=road_network, run_dispatch_loop=False, run_relay=False)
    return await aiohttp_client(app)


@pytest.fixture
async def receiver():
    made: list[WebhookReceiver] = []

    async def start(**kwargs) -> tuple[WebhookReceiver, str]:
        r = WebhookReceiver(**kwargs)
        made.append(r)
        return r, await r.start()

    yield start
    for r in made:
        await r.stop()


async def register(client, url: str, **extra) -> dict:
    response = await client.post("/v1/webhooks", json={"url": url, **extra}, headers=OPERATOR)
    assert response.status == 201, await response.text()
    return await response.json()


def services(client):
    return client.server.app[SERVICES]


# the operator API ------------------------------------------------------------------------------

async def test_create_shows_the_secret_once_lists_and_deletes(hooks, db):
    created = await register(hooks, "https://example.com/hooks", event_types=["order.delivered"])
    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    assert created["state"] == "active" and created["event_types"] == ["order.delivered"]
    listed = await (await hooks.get("/v1/webhooks", headers=OPERATOR)).text()
    assert created["webhook_id"] in listed and created["secret"] not in listed and "secret" not in listed
    webhook_id = created["webhook_id"]
    deliveries = await hooks.get(f"/v1/webhooks/{webhook_id}/deliveries?status=failed", headers=OPERATOR)
    assert deliveries.status == 200 and (await deliveries.json()) == {"deliveries": []}
    assert (await hooks.post(f"/v1/webhooks/{webhook_id}/deliveries/1/retry", headers=OPERATOR)).status == 404
    for path, status in ((f"/v1/webhooks/{webhook_id}/deliveries?limit=0", 422),
                         (f"/v1/webhooks/{webhook_id}/deliveries?limit=ten", 422),
                         ("/v1/webhooks/wh_unknown/deliveries", 404)):
        response = await hooks.get(path, headers=OPERATOR)
        assert response.status == status, path
    bad_id = await hooks.post(f"/v1/webhooks/{webhook_id}/deliveries/abc/retry", headers=OPERATOR)
    assert bad_id.status == 404 and (await bad_id.json())["error"] == "not_found"  # ids are numbers
    assert (await hooks.post("/v1/webhooks/wh_unknown/deliveries/1/retry", headers=OPERATOR)).status == 404
    assert (await hooks.delete(f"/v1/webhooks/{webhook_id}", headers=OPERATOR)).status == 200
    gone = await hooks.delete(f"/v1/webhooks/{webhook_id}", headers=OPERATOR)
    assert gone.status == 404 and (await gone.json())["error"] == "not_found"
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_private_loopback_and_link_local_urls_are_refused_without_the_switch(client, db):
    for url in ("http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://192.168.1.1/x", "http://172.16.0.1/",
                "http://169.254.169.254/latest/meta-data", "http://[::1]:8080/", "http://[fe80::1]/",
                "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/", "http://localhost:8080/x", "http://100.64.0.1/"):
        response = await client.post("/v1/webhooks", json={"url": url}, headers=OPERATOR)
        body = await response.json()
        assert response.status == 422 and body["error"] == "invalid" and "url" in body["fields"], (url, body)
    for bad in ({"url": "ftp://example.com/x"}, {"url": "https://"}, {"url": "https://u:p@example.com/"},
                {"url": 5}, {}, {"url": "https://example.com/", "event_types": ["order.nope"]},
                {"url": "https://example.com/", "event_types": "order.delivered"}):
        response = await client.post("/v1/webhooks", json=bad, headers=OPERATOR)
        assert response.status == 422 and (await response.json())["error"] == "invalid", bad
    bad_query = await client.get("/v1/webhooks/wh_x/deliveries?status=lost", headers=OPERATOR)
    assert bad_query.status == 422
    assert await db.fetchval("SELECT count(*) FROM webhook_endpoints") == 0


async def test_delivery_time_guard_refuses_private_addresses_from_dns(clock):
    """Created while allowed (or with a name that resolved elsewhere), refused when sent: the
    relay's resolver checks the answers it connects to."""
    from dispatch.webhooks.http_sender import AiohttpSender

    sender = AiohttpSender(allow_private=False)
    try:
        for url in ("http://localhost:9/x", "http://127.0.0.1:9/x", "http://[::1]:9/x"):
            result = await sender.post(url, headers={}, body=b"{}", timeout_s=2)
            assert result.status is None and "loopback" in (result.error or ""), (url, result)
    finally:
        await sender.close()


# delivery ---------------------------------------------------------------------------------------

async def test_a_placed_order_arrives_signed_and_verifies_with_standardwebhooks(hooks, db, road_network, layout, receiver, clock):  # noqa: F811
    got, url = await receiver()
    created = await register(hooks, url)
    got.secret = created["secret"]
    await add_store(hooks, road_network, "s1", layout["near"], {"milk": 10})
    system = await make_token(hooks, "order_system")
    assert (await hooks.post("/v1/orders", json=order("o1", road_network, layout["drop"], milk=1),
                             headers=system)).status == 201
    relay = services(hooks).relay
    sent: list[tuple[dict, bytes]] = []
    real = relay.sender

    class Capture:  # the exact bytes and headers the relay put on the wire
        async def post(self, url, *, headers, body, timeout_s):
            sent.append((headers, body))
            return await real.post(url, headers=headers, body=body, timeout_s=timeout_s)

    relay.sender = Capture()
    report = await relay.tick()
    assert report.attempts == 1
    assert [(r.order_id, r.sequence, r.type) for r in got.accepted()] == [("o1", 1, "order.reserved")]
    assert got.signature_failures == 0
    row = await db.fetchrow("SELECT * FROM webhook_deliveries")
    assert row["status"] == "delivered" and row["attempts"] == 1 and row["last_status"] == 204
    (headers, body), = sent
    assert headers["content-type"] == "application/json" and headers["webhook-id"] == str(row["event_id"])
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60  # wall clock, not the service's
    assert headers["webhook-signature"].startswith("v1,")
    payload = Webhook(created["secret"]).verify(body, headers)
    the_order = await (await hooks.get("/v1/orders/o1", headers=system)).json()
    assert payload == {"type": "order.reserved", "timestamp": the_order["events"][0]["occurred_at"],
                       "data": {"order": the_order, "event": the_order["events"][0]}}
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "QUJD" * 11).verify(body, headers)  # a wrong secret
    for i in (0, len(body) // 2, len(body) - 1):
        changed = body[:i] + bytes([body[i] ^ 1]) + body[i + 1:]
        with pytest.raises((WebhookVerificationError, ValueError)):
            Webhook(created["secret"]).verify(changed, headers)  # one byte changed
    stale = signed_headers(created["secret"], msg_id=headers["webhook-id"], timestamp=int(time.time()) - 301,
                           body=body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(created["secret"]).verify(body, stale)  # correctly signed, 5 min and 1 s ago


async def test_receiver_refuses_a_wrong_secret_a_changed_byte_and_an_old_timestamp_from_the_relay(
        hooks, db, receiver, clock):
    """The relay's own deliveries, tampered on the way: the receiver (standardwebhooks) refuses each."""
    got, url = await receiver()
    created = await register(hooks, url)
    await seed_orders(db, ["a", "b", "c"], at=T0)
    await append(db, ["a", "b", "c"], at=T0)
    app = hooks.server.app
    got.secret = "whsec_" + "QUJD" * 11  # a receiver holding the wrong secret
    relay, sender = relay_for(app[POOL], clock, app[METRICS], timeout_s=2.0)
    try:
        await relay.tick()
        assert got.signature_failures == 3 and got.accepted() == []
        got.secret = created["secret"]

        class Tamper:
            async def post(self, url, *, headers, body, timeout_s):
                changed = body.replace(b'"order_id":"a"', b'"order_id":"A"')  # one byte
                return await sender.post(url, headers=headers, body=changed, timeout_s=timeout_s)

        relay.sender = Tamper()
        clock.advance(6)
        await relay.tick()
        assert got.signature_failures == 4 and sorted(r.order_id for r in got.accepted()) == ["b", "c"]
        relay.sender = sender
        relay._wall = lambda: time.time() - 400  # a delivery signed more than 5 minutes ago
        clock.advance(400)
        await relay.tick()
        assert got.signature_failures == 5 and len(got.accepted()) == 2
        relay._wall = time.time
        clock.advance(2000)
        await relay.tick()
        assert sorted(r.order_id for r in got.accepted()) == ["a", "b", "c"]
    finally:
        await sender.close()


async def test_a_receiver_down_for_a_minute_gets_everything_in_order(hooks, db, receiver, clock):
    """500 for the first virtual minute: retries at ~5 s and ~5 min (jittered), then all arrives, each
    order's events in sequence order, while the receiver never sees a later event before an earlier."""
    down_until = clock.now() + timedelta(seconds=60)

    async def flaky(payload):
        return 500 if clock.now() < down_until else 200

    got, url = await receiver(answer=flaky)
    got.secret = (await register(hooks, url))["secret"]
    orders = [f"o{i}" for i in range(20)]
    await seed_orders(db, orders, at=T0)
    await append(db, orders, at=T0, rounds=3)
    relay = services(hooks).relay
    first = await relay.tick()
    assert first.attempts == 20 and got.accepted() == []  # only each order's first event was tried
    for _ in range(40):
        clock.advance(15)
        await relay.tick()
        if len(got.unique_ids()) == 60:
            break
    assert len(got.unique_ids()) == 60 and got.signature_failures == 0
    assert clock.now() - T0 < timedelta(minutes=7)  # the third attempt, ~5 min after the second
    for order_id, seqs in in_order(got.receipts).items():
        assert seqs == sorted(seqs), (order_id, seqs)  # 500s included: never a later one first
    assert {tuple(s) for s in in_order(got.accepted()).values()} == {(1, 2, 3)}
    rows = await db.fetch("SELECT status, attempts FROM webhook_deliveries WHERE sequence = 1")
    assert {r["status"] for r in rows} == {"delivered"} and {r["attempts"] for r in rows} == {3}
    metrics = await (await hooks.get("/metrics")).text()
    assert 'flashdispatch_webhook_deliveries_total{result="delivered"} 60.0' in metrics
    assert 'flashdispatch_webhook_deliveries_total{result="retry"} 40.0' in metrics
    assert "flashdispatch_webhook_outbox_lag_seconds 0.0" in metrics


async def test_410_disables_the_endpoint_after_its_first_answer(hooks, db, receiver, clock):
    async def gone(payload):
        return 410

    got, url = await receiver(answer=gone)
    created = await register(hooks, url)
    got.secret = created["secret"]
    await seed_orders(db, ["a", "b"], at=T0)
    await append(db, ["a"], at=T0)
    relay = services(hooks).relay
    await relay.tick()
    assert got.requests == 1
    await append(db, ["a", "b"], at=T0, rounds=2)
    for _ in range(3):
        clock.advance(3600)
        await relay.tick()
    assert got.requests == 1, "nothing is sent to a disabled endpoint"
    listed = (await (await hooks.get("/v1/webhooks", headers=OPERATOR)).json())["webhooks"]
    assert listed[0]["state"] == "disabled" and "410" in listed[0]["disabled_reason"]
    failed = await (await hooks.get(f"/v1/webhooks/{created['webhook_id']}/deliveries?status=failed",
                                    headers=OPERATOR)).json()
    assert [(d["order_id"], d["last_status"]) for d in failed["deliveries"]] == [("a", 410)]
    retry = await hooks.post(f"/v1/webhooks/{created['webhook_id']}/deliveries/{failed['deliveries'][0]['delivery_id']}/retry",
                             headers=OPERATOR)
    assert retry.status == 409 and (await retry.json())["error"] == "not_retryable"
    metrics = await (await hooks.get("/metrics")).text()
    assert 'flashdispatch_webhook_endpoints{state="disabled"} 1.0' in metrics
    assert 'flashdispatch_webhook_deliveries_total{result="gone"} 1.0' in metrics


async def test_a_failed_delivery_stays_listed_and_retries_through_the_api(hooks, db, receiver, clock):
    healthy = False

    async def broken(payload):
        return 200 if healthy else 503

    got, url = await receiver(answer=broken)
    created = await register(hooks, url)
    got.secret = created["secret"]
    await seed_orders(db, ["a"], at=T0)
    await append(db, ["a"], at=T0)
    app = hooks.server.app
    relay, sender = relay_for(app[POOL], clock, app[METRICS], retry_delays_s=(5.0, 60.0))
    base = f"/v1/webhooks/{created['webhook_id']}/deliveries"
    try:
        for _ in range(4):
            await relay.tick()
            clock.advance(120)
        assert got.requests == 3
        failed = (await (await hooks.get(base + "?status=failed", headers=OPERATOR)).json())["deliveries"]
        assert len(failed) == 1 and failed[0]["attempts"] == 3 and failed[0]["last_status"] == 503
        assert (await (await hooks.get(base + "?status=pending", headers=OPERATOR)).json())["deliveries"] == []
        healthy = True
        retried = await hooks.post(f"{base}/{failed[0]['delivery_id']}/retry", headers=OPERATOR)
        assert retried.status == 200 and (await retried.json())["status"] == "pending"
        again = await hooks.post(f"{base}/{failed[0]['delivery_id']}/retry", headers=OPERATOR)
        assert again.status == 409
        await relay.tick()
        delivered = (await (await hooks.get(base + "?status=delivered", headers=OPERATOR)).json())["deliveries"]
        assert [d["delivery_id"] for d in delivered] == [failed[0]["delivery_id"]]
        assert len(got.accepted()) == 1
    finally:
        await sender.close()


async def test_retry_after_is_honoured(hooks, db, receiver, clock):
    calls: list[datetime] = []

    async def busy(payload):
        calls.append(clock.now())
        return 429 if len(calls) == 1 else 200

    got, url = await receiver(answer=busy)
    got.secret = (await register(hooks, url))["secret"]
    await seed_orders(db, ["a"], at=T0)
    await append(db, ["a"], at=T0)
    relay = services(hooks).relay
    original = relay.sender

    class WithRetryAfter:
        async def post(self, url, **kw):
            result = await original.post(url, **kw)
            return SendResult(result.status, retry_after_s=120.0) if result.status == 429 else result

    relay.sender = WithRetryAfter()
    await relay.tick()
    clock.advance(60)
    await relay.tick()
    assert len(calls) == 1, "not before Retry-After"
    clock.advance(61)
    await relay.tick()
    assert len(calls) == 2 and len(got.accepted()) == 1


async def test_a_dead_endpoint_does_not_delay_a_healthy_one(hooks, db, receiver, clock):
    """Four receivers never answer and have a backlog (4 × 32 connections hang, more than any shared
    connection pool would hold); the healthy one still gets every event within a second of its
    commit (wall time, generous: the relay polls every 0.05 s here)."""
    never = asyncio.Event()

    async def hang(payload):
        await never.wait()
        return 200

    dead = []
    for _ in range(4):
        r, dead_url = await receiver(answer=hang)
        r.secret = (await register(hooks, dead_url))["secret"]
        dead.append(r)
    backlog = [f"d{i}" for i in range(200)]
    await seed_orders(db, backlog, at=T0)
    await append(db, backlog, at=T0)
    app = hooks.server.app
    relay, sender = relay_for(app[POOL], clock, app[METRICS], timeout_s=5.0, poll_interval_s=0.05,
                              concurrency_per_endpoint=32)
    task = asyncio.create_task(relay.run_forever())
    try:
        deadline = time.monotonic() + 10
        while sum(r.requests for r in dead) < 128 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert [r.requests for r in dead] == [32] * 4  # their slots are full of posts that will time out
        wall_at: dict[str, float] = {}

        async def now_wall(payload):
            wall_at[payload["data"]["event"]["event_id"]] = time.monotonic()
            return 204

        healthy, healthy_url = await receiver(answer=now_wall)
        healthy.secret = (await register(hooks, healthy_url))["secret"]
        orders = [f"h{i}" for i in range(20)]
        await seed_orders(db, orders, at=T0)
        committed: list[float] = []
        for _ in range(5):
            await append(db, orders, at=T0)
            committed.append(time.monotonic())
            await asyncio.sleep(0.1)
        deadline = time.monotonic() + 10
        while len(healthy.unique_ids()) < 100 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(healthy.unique_ids()) == 100
        ids = await db.fetch("SELECT event_id, sequence FROM order_events WHERE order_id LIKE 'h%'")
        delays = [wall_at[str(r["event_id"])] - committed[r["sequence"] - 1] for r in ids]
        print(f"healthy endpoint: max delay {max(delays):.3f} s over {len(delays)} events")
        assert max(delays) < 1.0, f"healthy endpoint delayed: max {max(delays):.3f} s"
        assert [r.requests for r in dead] == [32] * 4
    finally:
        never.set()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await sender.close()


async def test_three_relays_at_once_deliver_each_event_once(hooks, db, receiver, clock):
    got, url = await receiver()
    got.secret = (await register(hooks, url))["secret"]
    orders = [f"o{i}" for i in range(100)]
    await seed_orders(db, orders, at=T0)
    app = hooks.server.app
    relays = [relay_for(app[POOL], clock, app[METRICS], seed=i, poll_interval_s=0.02) for i in range(3)]
    tasks = [asyncio.create_task(r.run_forever()) for r, _ in relays]
    try:
        for _ in range(4):
            await append(db, orders, at=T0)
            await asyncio.sleep(0.05)
        deadline = time.monotonic() + 30
        while len(got.receipts) < 400 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for _, s in relays:
            await s.close()
    assert len(got.receipts) == 400 and got.duplicates() == 0
    assert all(seqs == [1, 2, 3, 4] for seqs in in_order(got.receipts).values())
    assert await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'") == 400
    assert await db.fetchval("SELECT sum(claims) FROM webhook_deliveries") == 400


async def test_event_type_filter_and_the_order_as_get_returns_it(hooks, db, road_network, layout, receiver, clock):  # noqa: F811
    got, url = await receiver()
    got.secret = (await register(hooks, url, event_types=["order.cancelled"]))["secret"]
    await add_store(hooks, road_network, "s1", layout["near"], {"milk": 10})
    system = await make_token(hooks, "order_system")
    for oid in ("o1", "o2"):
        await hooks.post("/v1/orders", json=order(oid, road_network, layout["drop"], milk=1), headers=system)
    assert (await hooks.post("/v1/orders/o2/cancel", headers=system)).status == 200
    captured: list[dict] = []

    async def keep(payload):
        captured.append(payload)
        return 200

    got.answer = keep
    await services(hooks).relay.tick()
    assert [(p["type"], p["data"]["event"]["order_id"]) for p in captured] == [("order.cancelled", "o2")]
    assert captured[0]["data"]["order"] == await (await hooks.get("/v1/orders/o2", headers=system)).json()
    assert captured[0]["timestamp"] == captured[0]["data"]["event"]["occurred_at"]
    assert datetime.fromisoformat(captured[0]["timestamp"]) == T0.astimezone(UTC)
