"""`flashdispatch bench stock-sync`: full snapshots and deltas through HTTP and PostgreSQL.

Starts the service in this process on 127.0.0.1 (a random free port) over a scratch database
on the configured server (dropped afterwards), registers one store, then times ``PUT
/v1/stores/{id}/stock`` snapshots of ``--skus`` SKUs and ``PATCH`` deltas of ``--delta``
changes, end to end, with an operator token. The baseline, measured in the same run, is the
same bodies sent to a do-nothing aiohttp handler (transport and client cost only). Prints a
table, then one JSON line. A benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import aiohttp

    from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --skus, --delta, --repeat, --seed."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--skus", type=int, default=100_000, help="SKUs in each snapshot")
    parser.add_argument("--delta", type=int, default=1000, help="changes in each delta")
    parser.add_argument("--repeat", type=int, default=3, help="snapshots timed (deltas: 5× this)")
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if args.skus < 1 or args.delta < 1 or args.repeat < 1 or args.delta > args.skus:
        say("flashdispatch bench stock-sync: need 1 <= --delta <= --skus and --repeat >= 1")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    return 0 if summary["errors"] == 0 else 1


async def measure(args: argparse.Namespace, settings: Settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import aiohttp

    from dispatch.bench.report import say
    from dispatch.bench.server import running_noop

    bodies = _Bodies.generate(args)
    say(f"snapshot body {len(bodies.snapshots[0]) / 1e6:.1f} MB,"
        f" delta body {len(bodies.deltas[0]) / 1e3:.0f} kB")
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        client = _TimedClient(session)
        say("baseline: the same bodies to a do-nothing handler")
        plain = {"Content-Type": "application/json"}
        async with running_noop() as noop_url:
            noop = _Timings(
                snapshot_s=[await client.send("PUT", noop_url + "/s", b, plain) for b in bodies.snapshots],
                delta_s=[await client.send("PATCH", noop_url + "/s", b, plain) for b in bodies.deltas],
            )
        client.errors.clear()  # the no-op answers 201
        service = await _measure_service(settings, client, bodies)
    _print_stock_table(args, service=service, noop=noop)
    for line in client.errors[:5]:
        say(f"error: {line}")
    return _summary(args, service=service, noop=noop, errors=len(client.errors))


@dataclass(frozen=True, slots=True)
class _Bodies:
    """The request bodies, made before anything is timed: full snapshots, then deltas."""

    snapshots: list[bytes]
    deltas: list[bytes]

    @classmethod
    def generate(cls, args: argparse.Namespace) -> _Bodies:
        """``--repeat`` snapshots of every SKU, then 5× as many deltas of ``--delta`` SKUs (seeded)."""
        import json
        import random

        rng = random.Random(args.seed)
        skus = [f"sku-{j:06d}" for j in range(args.skus)]
        rounds = args.repeat
        snapshots = [
            json.dumps(
                {"version": 1 + r, "items": [{"sku": s, "quantity": rng.randint(0, 500)} for s in skus]}
            ).encode()
            for r in range(rounds)
        ]
        deltas = [
            json.dumps(
                {
                    "version": 1 + rounds + r,
                    "changes": [
                        {"sku": s, "delta": rng.randint(1, 20)} for s in rng.sample(skus, args.delta)
                    ],
                }
            ).encode()
            for r in range(5 * rounds)
        ]
        return cls(snapshots, deltas)


class _TimedClient:
    """Sends one request and returns its seconds; keeps a note of every non-200 answer."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.errors: list[str] = []

    async def send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> float:
        """Seconds from sending ``body`` to reading the whole answer."""
        started = time.perf_counter()
        async with self.session.request(method, url, data=body, headers=headers) as response:
            text = await response.read()
            if response.status != 200:
                self.errors.append(f"{method} {response.status} {text[:200]!r}")
        return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class _Timings:
    """Seconds per snapshot and per delta, in the order sent."""

    snapshot_s: list[float]
    delta_s: list[float]


async def _measure_service(settings: Settings, client: _TimedClient, bodies: _Bodies) -> _Timings:
    """Start the service, register one store, then time every snapshot and every delta."""
    from dispatch.bench.city import bearer
    from dispatch.bench.report import percentile, say
    from dispatch.bench.server import running_service
    from dispatch.lifecycle import NETWORK

    say("starting the service on a scratch database")
    async with running_service(settings) as service:
        network = service.app[NETWORK]
        headers = {**bearer(service.operator_token), "Content-Type": "application/json"}
        store_url = f"{service.base_url}/v1/stores/bench-stock"
        store = {
            "name": "bench-stock",
            "location": {"lat": float(network.lat[0]), "lon": float(network.lon[0])},
            "zone": "bench",
        }
        async with client.session.put(store_url, json=store, headers=headers) as response:
            if response.status not in (200, 201):
                client.errors.append(f"store {response.status} {await response.text()}")
        snapshot_s = []
        for r, body in enumerate(bodies.snapshots):
            snapshot_s.append(await client.send("PUT", store_url + "/stock", body, headers))
            say(f"snapshot {r + 1}/{len(bodies.snapshots)}: {snapshot_s[-1]:.2f} s")
        delta_s = [await client.send("PATCH", store_url + "/stock", b, headers) for b in bodies.deltas]
        say(f"{len(bodies.deltas)} deltas: median {percentile(delta_s, 50) * 1000:.1f} ms")
    return _Timings(snapshot_s, delta_s)


def _print_stock_table(args: argparse.Namespace, *, service: _Timings, noop: _Timings) -> None:
    """Snapshots and deltas against the same bodies sent to the do-nothing handler."""
    from dispatch.bench.report import percentile, print_table

    snapshot_s, delta_s = service.snapshot_s, service.delta_s
    delta_ms = [x * 1000 for x in delta_s]
    print_table(
        f"stock sync: one store, {args.skus:,}-SKU snapshots, {args.delta:,}-change deltas",
        ["operation", "runs", "median", "worst", "no-op baseline median", "rate"],
        [
            ["snapshot (s)", len(snapshot_s), percentile(snapshot_s, 50), max(snapshot_s),
             percentile(noop.snapshot_s, 50), f"{args.skus / percentile(snapshot_s, 50):,.0f} SKU/s"],
            ["first snapshot, all inserts (s)", 1, snapshot_s[0], snapshot_s[0], noop.snapshot_s[0], ""],
            ["delta (ms)", len(delta_s), percentile(delta_ms, 50), max(delta_ms),
             percentile(noop.delta_s, 50) * 1000, f"{args.delta / percentile(delta_s, 50):,.0f} changes/s"],
        ],
    )


def _summary(args: argparse.Namespace, *, service: _Timings, noop: _Timings, errors: int) -> dict[str, Any]:
    """The JSON line's figures."""
    from dispatch.bench.report import percentile, rounded

    snapshot_s = service.snapshot_s
    delta_ms = [x * 1000 for x in service.delta_s]
    return {
        "snapshot_skus_per_s": rounded(args.skus / percentile(snapshot_s, 50), 0),
        "snapshot_s": rounded(percentile(snapshot_s, 50), 3),
        "snapshot_s_worst": rounded(max(snapshot_s), 3),
        "snapshot_s_first": rounded(snapshot_s[0], 3),
        "delta_1000_ms": rounded(percentile(delta_ms, 50)),
        "delta_ms_worst": rounded(max(delta_ms)),
        "noop_snapshot_s": rounded(percentile(noop.snapshot_s, 50), 3),
        "noop_delta_ms": rounded(percentile(noop.delta_s, 50) * 1000),
        "skus": args.skus,
        "delta_changes": args.delta,
        "repeat": args.repeat,
        "errors": errors,
    }
