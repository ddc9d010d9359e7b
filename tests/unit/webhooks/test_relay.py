"""The relay's rules on in-memory fakes: order per order, other orders flow, a dead endpoint keeps
to its own slots, the retry schedule, 410, and signatures a Standard Webhooks library accepts."""

from __future__ import annotations

import asyncio
import json
import random
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook

from dispatch.clock import VirtualClock
from dispatch.errors import NotRetryable, WebhookUrlRefused
from dispatch.webhooks.address_guard import is_public, parse_url
from dispatch.webhooks.http_sender import retry_after_s
from dispatch.webhooks.model import RETRY_DELAYS_S, DeliveryStatus, RelayPolicy, Result, SendResult, decide
from dispatch.webhooks.registry import WebhookRegistry
from dispatch.webhooks.relay import Relay
from dispatch.webhooks.signing import new_secret, signed_headers
from tests.unit.webhooks.fakes import FakeObserver, FakeResolver, FakeSender, FakeStore

T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def ok(status: int = 200):
    async def answer(headers, body):
        return SendResult(status)

    return answer


async def world(answers, *, allow_private=True, **policy):
    store = FakeStore()
    clock = VirtualClock(T0)
    registry = WebhookRegistry(store=store, resolver=FakeResolver({}), allow_private=allow_private)
    hooks = {url: await registry.create(url, None, now=T0) for url in answers}
    sender = FakeSender(answers)
    observer = FakeObserver()
    relay = Relay(store=store, sender=sender, clock=clock, observer=observer, policy=RelayPolicy(**policy),
                  rng=random.Random(1))
    return store, clock, relay, sender, observer, hooks, registry


def posted(sender, url=None) -> list[tuple[str, int]]:
    out = []
    for u, _, body in sender.posts:
        if url is None or u == url:
            event = json.loads(body)["data"]["event"]
            out.append((event["order_id"], event["sequence"]))
    return out


def test_decide_follows_the_schedule_with_jitter_then_gives_up():
    policy = RelayPolicy()
    rng = random.Random(7)
    for attempts, base in enumerate(RETRY_DELAYS_S, start=1):
        d = decide(SendResult(500), attempts=attempts, now=T0, policy=policy, rng=rng)
        assert d.result is Result.RETRY
        wait = (d.next_attempt_at - T0).total_seconds()
        assert base * 0.9 <= wait <= base * 1.1
    assert decide(SendResult(500), attempts=8, now=T0, policy=policy, rng=rng).result is Result.FAILED
    assert decide(SendResult(None, error="timeout"), attempts=8, now=T0, policy=policy, rng=rng).result is Result.FAILED
    assert decide(SendResult(410), attempts=1, now=T0, policy=policy, rng=rng).result is Result.GONE
    assert decide(SendResult(204), attempts=8, now=T0, policy=policy, rng=rng).result is Result.DELIVERED
    honoured = decide(SendResult(429, retry_after_s=42), attempts=1, now=T0, policy=policy, rng=rng)
    assert honoured.next_attempt_at == T0 + timedelta(seconds=42)
    capped = decide(SendResult(503, retry_after_s=10**9), attempts=1, now=T0, policy=policy, rng=rng)
    assert capped.next_attempt_at == T0 + timedelta(hours=10)
    # jitter spreads a crowd of retries
    waits = {decide(SendResult(500), attempts=1, now=T0, policy=policy, rng=rng).next_attempt_at for _ in range(20)}
    assert len(waits) == 20


async def test_a_later_event_waits_for_an_earlier_one_while_other_orders_flow():
    failures = {"a": 1}

    async def flaky(headers, body):
        order_id = json.loads(body)["data"]["event"]["order_id"]
        if failures.get(order_id):
            failures[order_id] -= 1
            return SendResult(500)
        return SendResult(204)

    store, clock, relay, sender, observer, _, _ = await world({"https://r.example/h": flaky})
    for _ in range(3):
        store.add_event("a", T0)
        store.add_event("b", T0)
    await relay.tick()
    assert posted(sender) == [("a", 1), ("b", 1), ("b", 2), ("b", 3)]  # b flows past a's retry
    clock.advance(6)
    await relay.tick()
    assert posted(sender)[4:] == [("a", 1), ("a", 2), ("a", 3)]
    assert observer.results.count(Result.DELIVERED) == 6 and observer.results.count(Result.RETRY) == 1
    assert observer.lag_s == 0.0


async def test_a_dead_endpoint_fills_only_its_own_slots():
    never = asyncio.Event()

    async def hang(headers, body):
        await never.wait()
        return SendResult(200)

    store, _, relay, sender, _, _, _ = await world(
        {"https://dead.example/h": hang, "https://ok.example/h": ok()}, concurrency_per_endpoint=4)
    for i in range(50):
        store.add_event(f"o{i}", T0)
    await relay.fan_out()
    endpoints = await store.endpoints()
    for _ in range(200):  # what the run loop does as attempts finish
        await relay.pump(endpoints)
        for _ in range(5):
            await asyncio.sleep(0)
        if len(posted(sender, "https://ok.example/h")) == 50:
            break
    assert len(posted(sender, "https://ok.example/h")) == 50
    assert len(posted(sender, "https://dead.example/h")) == 4  # its 4 slots, no more
    never.set()
    await relay.drain()


async def test_a_timeout_is_a_failed_attempt_and_410_disables_the_endpoint():
    async def slow(headers, body):
        await asyncio.sleep(5)
        return SendResult(200)

    store, clock, relay, sender, observer, hooks, registry = await world(
        {"https://slow.example/h": slow, "https://gone.example/h": ok(410)}, timeout_s=0.01)
    store.add_event("a", T0)
    store.add_event("a", T0)
    await relay.tick()
    slow_id = hooks["https://slow.example/h"].webhook_id
    slow_row = next(d for d in store.rows.values() if d.webhook_id == slow_id and d.sequence == 1)
    assert slow_row.status is DeliveryStatus.PENDING and slow_row.last_error == "timeout"
    gone = hooks["https://gone.example/h"]
    assert (await store.endpoint(gone.webhook_id)).state.value == "disabled"
    assert observer.states == (1, 1)
    clock.advance(3600)
    await relay.tick()
    assert len(posted(sender, "https://gone.example/h")) == 1
    failed = await registry.deliveries(gone.webhook_id, status=DeliveryStatus.FAILED, limit=10)
    with pytest.raises(NotRetryable):
        await registry.retry(gone.webhook_id, failed[0].delivery_id, now=clock.now())


async def test_signatures_verify_with_standardwebhooks_and_fail_when_anything_changes():
    secret = new_secret()
    body = b'{"type":"order.delivered","data":{}}'
    headers = signed_headers(secret, msg_id="42", timestamp=int(time.time()), body=body)
    assert Webhook(secret).verify(body, headers) == {"type": "order.delivered", "data": {}}
    with pytest.raises(Exception, match="signature"):
        Webhook(new_secret()).verify(body, headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body.replace(b"delivered", b"delivereD"), headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body, {**headers, "webhook-id": "43"})


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.216.34", True), ("2606:2800:220:1:248:1893:25c8:1946", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.0.1", False),
    ("169.254.169.254", False), ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:10.0.0.1", False), ("0.0.0.0", False), ("100.64.0.1", False), ("224.0.0.1", False),
])
def test_only_public_addresses_pass_the_guard(address, public):
    assert is_public(address) is public


async def test_registry_checks_dns_answers_unless_private_targets_are_allowed():
    store = FakeStore()
    resolver = FakeResolver({"hooks.example": ["93.184.216.34"], "sneaky.example": ["93.184.216.34", "10.0.0.7"]})
    strict = WebhookRegistry(store=store, resolver=resolver, allow_private=False)
    assert (await strict.create("https://hooks.example/x", None, now=T0)).secret.startswith("whsec_")
    await strict.create("https://unresolved.example/x", None, now=T0)  # checked again at delivery
    for url in ("https://sneaky.example/x", "http://127.0.0.1/x", "http://localhost/x", "file:///etc/passwd"):
        with pytest.raises(WebhookUrlRefused):
            await strict.create(url, None, now=T0)
    lenient = WebhookRegistry(store=store, resolver=resolver, allow_private=True)
    await lenient.create("http://127.0.0.1:8080/x", None, now=T0)
    assert parse_url("https://h.example/x") == ("https", "h.example", 443)


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after_s("120") == 120.0
    assert retry_after_s("Wed, 02 Dec 2026 10:00:30 GMT", now=datetime(2026, 12, 2, 10, 0, tzinfo=UTC)) == 30.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None


def test_a_host_dns_cannot_carry_is_refused_before_any_lookup():
    from dispatch.errors import WebhookUrlRefused
    from dispatch.webhooks.address_guard import parse_url

    for url in ("https://" + "0" * 300, "http://\x14ab/", "https://a..b/", "https://-_-" + "x" * 64 + ".example/"):
        try:
            parse_url(url)
        except WebhookUrlRefused as refused:
            assert "not a valid host name" in str(refused), url
        else:
            raise AssertionError(f"{url!r} was accepted")
    assert parse_url("http://bücher.example/x") == ("http", "bücher.example", 80)
    assert parse_url("http://[::1]:9/x") == ("http", "::1", 9)
