"""`flashdispatch bench webhooks`: the event log delivered to a real receiver by the relay.

Starts the service in this process on 127.0.0.1 over a scratch database (the relay runs in it
with the default settings, as in ``serve --role all``), and a webhook receiver on 127.0.0.1 in
another process that verifies every delivery with the PyPI ``standardwebhooks`` package.
Registers stores and one endpoint through the API, then places ``--orders`` orders
(``order.reserved``) and cancels every other one (``order.cancelled``) from ``--concurrency``
connections — as fast as they go, or paced at ``--rate`` orders/s — and waits until the outbox
is empty. Lag is receipt time minus the event's ``occurred_at`` (both wall clock);
``events_per_s`` is events over the time from the first order to the last receipt. Afterwards
the database is checked: every event of the log must have been received and every delivery
row be delivered (``lost``); ``duplicates`` are receipts of an id already received. Prints a
table, then one JSON line. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --orders, --concurrency, --rate, --stores, --road-network, --seed, --timeout."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--orders", type=int, default=2000, help="orders placed (half are then cancelled)")
    parser.add_argument("--concurrency", type=int, default=32, help="connections placing orders")
    parser.add_argument("--stores", type=int, default=20)
    parser.add_argument(
        "--road-network",
        type=Path,
        metavar="FILE",
        help="overrides FLASHDISPATCH_ROAD_NETWORK / the bundled network",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the outbox to empty"
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="orders per second (0: as fast as --concurrency allows); each odd one is also cancelled",
    )


class ReceiverProcess:
    """``dispatch.sim.webhook_receiver`` in its own process: the relay, not the receiver, is measured."""

    def __init__(self) -> None:
        self._proc: Any = None  # asyncio.subprocess.Process once started

    async def start(self) -> str:
        import asyncio
        import sys

        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dispatch.sim.webhook_receiver",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return (await self._proc.stdout.readline()).decode().strip()

    def send_secret(self, secret: str) -> None:
        self._proc.stdin.write(secret.encode() + b"\n")

    async def stop(self):
        import json

        from dispatch.sim.webhook_receiver import WebhookReceiver, receipt_from_json

        self._proc.stdin.write(b"stop\n")
        await self._proc.stdin.drain()
        lines = (await self._proc.stdout.read()).decode().splitlines()
        await self._proc.wait()
        return WebhookReceiver(
            receipts=[receipt_from_json(line) for line in lines[:-1]],
            signature_failures=json.loads(lines[-1])["signature_failures"],
        )

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            self._proc.kill()


def run(args: argparse.Namespace, settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if args.orders < 2 or args.concurrency < 1:
        say("flashdispatch bench webhooks: need --orders >= 2 and --concurrency >= 1")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    return 0 if summary["lost"] == 0 and summary["signature_failures"] == 0 else 1


async def measure(args: argparse.Namespace, settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import dataclasses
    import random
    import time
    from datetime import UTC, datetime

    import aiohttp

    from dispatch.bench.city import bearer, create_token, plan_city, seed_stores
    from dispatch.bench.report import percentile, print_table, rounded, say
    from dispatch.bench.server import running_service
    from dispatch.bench.workloads import order_body
    from dispatch.keys import SERVICES
    from dispatch.orders.events import START
    from dispatch.webhooks.model import DeliveryStatus
    from geo.loading import load_road_network

    network = await asyncio.to_thread(
        load_road_network, args.road_network or settings.road_network, cache_dir=settings.home / "cache"
    )
    city = plan_city(network, stores=args.stores, skus=20, seed=args.seed)
    settings = dataclasses.replace(
        settings, webhooks=dataclasses.replace(settings.webhooks, allow_private=True)
    )
    receiver_process = ReceiverProcess()
    hook_url = await receiver_process.start()
    rng = random.Random(args.seed)
    bodies = [order_body(f"wh-bench-{i:06d}", city, rng, max_lines=2) for i in range(args.orders)]
    placed: list[str] = []
    errors: list[str] = []
    try:
        async with running_service(settings, road_network=network) as service:
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                await seed_stores(session, service.base_url, service.operator_token, city, quantity=1_000_000)
                operator = bearer(service.operator_token)
                async with session.post(
                    service.base_url + "/v1/webhooks", json={"url": hook_url}, headers=operator
                ) as r:
                    created = await r.json()
                receiver_process.send_secret(created["secret"])
                system = {
                    **bearer(
                        await create_token(session, service.base_url, service.operator_token, "order_system")
                    ),
                    "Content-Type": "application/json",
                }
                say(
                    f"placing {args.orders} orders and cancelling every other one"
                    f" ({args.concurrency} connections)"
                )
                queue: asyncio.Queue[int] = asyncio.Queue()
                for i in range(args.orders):
                    queue.put_nowait(i)
                started = time.perf_counter()
                started_at = datetime.now(UTC)

                async def worker() -> None:
                    while not queue.empty():
                        i = queue.get_nowait()
                        order_id = f"wh-bench-{i:06d}"
                        if args.rate > 0:  # paced: order i no earlier than i / rate after the start
                            await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
                        async with session.post(
                            service.base_url + "/v1/orders", data=bodies[i], headers=system
                        ) as r:
                            await r.read()
                            if r.status != 201:
                                errors.append(f"POST {r.status}")
                                continue
                        placed.append(order_id)
                        if i % 2 == 1:
                            async with session.post(
                                f"{service.base_url}/v1/orders/{order_id}/cancel", headers=system
                            ) as r:
                                await r.read()
                                if r.status != 200:
                                    errors.append(f"cancel {r.status}")

                await asyncio.gather(*(worker() for _ in range(args.concurrency)))
                produced_s = time.perf_counter() - started
                services = service.app[SERVICES]
                events: set[str] = set()
                cursor = START
                deadline = time.monotonic() + args.timeout
                drained = False
                while time.monotonic() < deadline:
                    while True:  # the whole log, through the same feed GET /v1/events reads
                        page = await services.events.page(cursor, limit=1000)
                        events.update(str(e.event_id) for e in page.events)
                        cursor = page.next
                        if not page.events:
                            break
                    if events and (await services.relay.store.stats()).oldest_pending_at is None:
                        drained = True
                        break
                    await asyncio.sleep(0.05)
                if not drained:
                    say(f"the outbox did not empty within {args.timeout:g} s")
                await asyncio.sleep(0.5)  # anything still in flight lands (counts as a duplicate)
                undelivered = 0
                for status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
                    undelivered += len(
                        await services.webhooks.deliveries(
                            created["webhook_id"], status=status, limit=100_000
                        )
                    )
        receiver = await receiver_process.stop()
    finally:
        receiver_process.kill()
    accepted = receiver.accepted()
    last = max((r.received_at for r in accepted), default=started_at)
    span_s = max((last - started_at).total_seconds(), 1e-9)
    lags_ms = [r.lag_s * 1000 for r in accepted]
    lost = len(events - receiver.unique_ids()) + undelivered
    summary = {
        "orders": len(placed),
        "rate": args.rate or None,
        "events": len(events),
        "events_per_s": rounded(len(receiver.unique_ids()) / span_s, 1),
        "produced_events_per_s": rounded(len(events) / produced_s, 1),
        "lag_p50_ms": rounded(percentile(lags_ms, 50), 1),
        "lag_p99_ms": rounded(percentile(lags_ms, 99), 1),
        "lag_max_ms": rounded(max(lags_ms, default=float("nan")), 1),
        "duplicates": receiver.duplicates(),
        "lost": lost,
        "signature_failures": receiver.signature_failures,
        "errors": len(errors),
    }
    print_table(
        "Webhook delivery (one endpoint, receiver verifying with standardwebhooks)",
        ["events", "events/s", "produced/s", "lag p50 ms", "lag p99 ms", "lag max ms", "duplicates", "lost"],
        [
            [
                summary["events"],
                summary["events_per_s"],
                summary["produced_events_per_s"],
                summary["lag_p50_ms"],
                summary["lag_p99_ms"],
                summary["lag_max_ms"],
                summary["duplicates"],
                summary["lost"],
            ]
        ],
    )
    return summary
