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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.settings import Settings

if TYPE_CHECKING:
    from dispatch.sim.webhook_receiver import WebhookReceiver


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

    async def stop(self) -> WebhookReceiver:
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


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if args.orders < 2 or args.concurrency < 1:
        say("flashdispatch bench webhooks: need --orders >= 2 and --concurrency >= 1")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    return 0 if summary["lost"] == 0 and summary["signature_failures"] == 0 else 1


async def measure(args: argparse.Namespace, settings: Settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import dataclasses
    import random

    from dispatch.bench.city import plan_city
    from dispatch.bench.server import running_service
    from dispatch.bench.workloads import order_body
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
    try:
        async with running_service(settings, road_network=network) as service:
            run = await _produce(service, city, hook_url, receiver_process, bodies=bodies, args=args)
            run.events, run.undelivered = await _drain(service, run.webhook_id, args.timeout)
        receiver = await receiver_process.stop()
    finally:
        receiver_process.kill()
    summary = _summary(run, receiver, args)
    _print(summary)
    return summary


@dataclass
class _Run:
    """What one benchmark run produced and what the service logged."""

    webhook_id: str = ""
    placed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    produced_s: float = 0.0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    events: set[str] = field(default_factory=set)
    undelivered: int = 0


async def _produce(
    service: Any,
    city: Any,
    hook_url: str,
    receiver_process: ReceiverProcess,
    *,
    bodies: list,
    args: argparse.Namespace,
) -> _Run:
    """Register the receiver, then place every order (and cancel every other one) over HTTP."""
    import aiohttp

    from dispatch.bench.city import bearer, create_token, seed_stores
    from dispatch.bench.report import say

    run = _Run()
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        await seed_stores(session, service.base_url, service.operator_token, city, quantity=1_000_000)
        operator = bearer(service.operator_token)
        async with session.post(
            service.base_url + "/v1/webhooks", json={"url": hook_url}, headers=operator
        ) as r:
            created = await r.json()
        run.webhook_id = created["webhook_id"]
        receiver_process.send_secret(created["secret"])
        token = await create_token(session, service.base_url, service.operator_token, "order_system")
        system = {**bearer(token), "Content-Type": "application/json"}
        say(f"placing {args.orders} orders and cancelling every other one ({args.concurrency} connections)")
        await _place_all(session, service.base_url, system, bodies=bodies, args=args, run=run)
    return run


async def _place_all(
    session: Any, base_url: str, system: dict, *, bodies: list, args: argparse.Namespace, run: _Run
) -> None:
    import asyncio
    import time

    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(len(bodies)):
        queue.put_nowait(i)
    started = time.perf_counter()
    run.started_at = datetime.now(UTC)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            if args.rate > 0:  # paced: order i no earlier than i / rate after the start
                await asyncio.sleep(max(0.0, started + i / args.rate - time.perf_counter()))
            await _place_one(
                session, base_url, system, bodies[i], f"wh-bench-{i:06d}", cancel=i % 2 == 1, run=run
            )

    await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    run.produced_s = time.perf_counter() - started


async def _place_one(
    session: Any, base_url: str, system: dict, body: Any, order_id: str, *, cancel: bool, run: _Run
) -> None:
    async with session.post(base_url + "/v1/orders", data=body, headers=system) as r:
        await r.read()
        if r.status != 201:
            run.errors.append(f"POST {r.status}")
            return
    run.placed.append(order_id)
    if cancel:
        async with session.post(f"{base_url}/v1/orders/{order_id}/cancel", headers=system) as r:
            await r.read()
            if r.status != 200:
                run.errors.append(f"cancel {r.status}")


async def _drain(service: Any, webhook_id: str, timeout_s: float) -> tuple[set[str], int]:
    """Read the whole log through the events feed until the outbox is empty; then what is still
    pending or failed for the receiver (lost, unless it arrived anyway)."""
    import asyncio
    import time

    from dispatch.bench.report import say
    from dispatch.keys import SERVICES
    from dispatch.orders.events import START
    from dispatch.webhooks.model import DeliveryStatus

    services = service.app[SERVICES]
    events: set[str] = set()
    cursor = START
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        while True:  # the whole log, through the same feed GET /v1/events reads
            page = await services.events.page(cursor, limit=1000)
            events.update(str(e.event_id) for e in page.events)
            cursor = page.next
            if not page.events:
                break
        if events and (await services.relay.store.stats()).oldest_pending_at is None:
            break
        await asyncio.sleep(0.05)
    else:
        say(f"the outbox did not empty within {timeout_s:g} s")
    await asyncio.sleep(0.5)  # anything still in flight lands (counts as a duplicate)
    undelivered = 0
    for status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
        undelivered += len(await services.webhooks.deliveries(webhook_id, status=status, limit=100_000))
    return events, undelivered


def _summary(run: _Run, receiver: Any, args: argparse.Namespace) -> dict:
    from dispatch.bench.report import percentile, rounded

    accepted = receiver.accepted()
    last = max((r.received_at for r in accepted), default=run.started_at)
    span_s = max((last - run.started_at).total_seconds(), 1e-9)
    lags_ms = [r.lag_s * 1000 for r in accepted]
    return {
        "orders": len(run.placed),
        "rate": args.rate or None,
        "events": len(run.events),
        "events_per_s": rounded(len(receiver.unique_ids()) / span_s, 1),
        "produced_events_per_s": rounded(len(run.events) / max(run.produced_s, 1e-9), 1),
        "lag_p50_ms": rounded(percentile(lags_ms, 50), 1),
        "lag_p99_ms": rounded(percentile(lags_ms, 99), 1),
        "lag_max_ms": rounded(max(lags_ms, default=float("nan")), 1),
        "duplicates": receiver.duplicates(),
        "lost": len(run.events - receiver.unique_ids()) + run.undelivered,
        "signature_failures": receiver.signature_failures,
        "errors": len(run.errors),
    }


def _print(summary: dict) -> None:
    from dispatch.bench.report import print_table

    columns = ["events", "events_per_s", "produced_events_per_s", "lag_p50_ms", "lag_p99_ms", "lag_max_ms",
               "duplicates", "lost"]  # fmt: skip
    print_table(
        "Webhook delivery (one endpoint, receiver verifying with standardwebhooks)",
        ["events", "events/s", "produced/s", "lag p50 ms", "lag p99 ms", "lag max ms", "duplicates", "lost"],
        [[summary[c] for c in columns]],
    )
