"""kill -9 of a real `flashdispatch serve --role relay` in the middle of a burst of 2,000 events;
restart (and a second relay beside it): every event reaches the receiver at least once, every
duplicate carries the same webhook-id, and per order the receiver sees sequences in order."""

from __future__ import annotations

import asyncio

import aiohttp

from dispatch.sim.webhook_receiver import WebhookReceiver
from tests.conftest import T0
from tests.faults.conftest import OPERATOR, until
from tests.webhook_world import append, seed_orders

ORDERS = 400
ROUNDS = 5  # events per order: 2,000 in all
RELAY_ENV = {
    "FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE": "1",
    "FLASHDISPATCH_WEBHOOK_TIMEOUT_S": "1",  # a claim of the dead relay runs out 6 s after it was taken
    "FLASHDISPATCH_WEBHOOK_POLL_S": "0.05",
    "FLASHDISPATCH_WEBHOOK_CONCURRENCY": "16",
}


async def test_relay_killed_mid_burst_delivers_everything_in_order_after_restart(spawn, db):
    arrivals: list[str] = []  # every verified delivery as it arrives, before it is answered

    async def slow(payload) -> int:  # a receiver taking 50 ms: the kill lands with posts in flight
        arrivals.append(payload["data"]["event"]["event_id"])
        await asyncio.sleep(0.05)
        return 204

    receiver = WebhookReceiver(answer=slow)
    url = await receiver.start()
    try:
        first = spawn(role="relay", name="relay-a", env=RELAY_ENV)
        await first.wait_ready()
        async with aiohttp.ClientSession() as session, session.post(
                first.url + "/v1/webhooks", json={"url": url}, headers=OPERATOR) as r:
            assert r.status == 201, await r.text()
            receiver.secret = (await r.json())["secret"]
        orders = [f"o{i:03d}" for i in range(ORDERS)]
        await seed_orders(db, orders, at=T0)

        async def burst() -> None:  # 20 transactions of 100 events, written faster than delivered
            for _ in range(ROUNDS):
                for start in range(0, ORDERS, 100):
                    await append(db, orders[start:start + 100], at=T0)
                    await asyncio.sleep(0.005)

        async def kill_midway() -> int:
            # kill while deliveries are inside the receiver (arrived, not yet answered): posts the
            # relay made and will never mark delivered
            await until(lambda: _arrived(arrivals, 308), timeout_s=30, interval_s=0.001, what="308 events arrived")
            first.kill()
            return len(receiver.unique_ids())

        _, at_kill = await asyncio.wait_for(asyncio.gather(burst(), kill_midway()), timeout=60)
        total = ORDERS * ROUNDS
        assert await db.fetchval("SELECT count(*) FROM order_events") == total
        assert 250 <= at_kill < total, "the kill did not land in the middle of the burst"
        assert await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'") > 0

        second = spawn(role="relay", name="relay-b", env=RELAY_ENV)
        third = spawn(role="relay", name="relay-c", env=RELAY_ENV)
        await second.wait_ready()
        await third.wait_ready()
        await until(lambda: _received(receiver, total), timeout_s=60, what="every event received after restart")
        await asyncio.sleep(0.5)  # anything still in flight lands

        print(f"received at kill: {at_kill}; arrived twice: {len(arrivals) - len(set(arrivals))}")
        assert receiver.signature_failures == 0
        events = {str(r["event_id"]): (r["order_id"], r["sequence"]) for r in
                  await db.fetch("SELECT event_id, order_id, sequence FROM order_events")}
        assert receiver.unique_ids() == set(events), "an event never reached the receiver"
        for receipt in receiver.receipts:  # a duplicate is the same event under the same webhook-id
            assert events[receipt.webhook_id] == (receipt.order_id, receipt.sequence), receipt
        per_order: dict[str, list[int]] = {}
        for receipt in receiver.receipts:
            per_order.setdefault(receipt.order_id, []).append(receipt.sequence)
        for order_id, seqs in per_order.items():
            assert seqs == sorted(seqs), (order_id, seqs)  # duplicates repeat a number, never go back
            assert list(dict.fromkeys(seqs)) == list(range(1, ROUNDS + 1)), (order_id, seqs)
        # what the killed relay had in flight arrived but was never marked: it comes again, and
        # nothing else does (16 slots per endpoint)
        again = len(arrivals) - len(set(arrivals))
        assert 1 <= again <= 16 and receiver.duplicates() <= again, (again, receiver.duplicates())
        assert await db.fetchval("SELECT count(*) FROM webhook_deliveries WHERE status <> 'delivered'") == 0
    finally:
        await receiver.stop()


async def _arrived(arrivals: list[str], n: int) -> bool:
    return len(set(arrivals)) >= n


async def _received(receiver: WebhookReceiver, n: int) -> bool:
    return len(receiver.unique_ids()) >= n
