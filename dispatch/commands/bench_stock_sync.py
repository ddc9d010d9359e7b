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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    import json
    import random
    import time

    import aiohttp

    from dispatch.bench.city import bearer
    from dispatch.bench.report import percentile, print_table, rounded, say
    from dispatch.bench.server import running_noop, running_service
    from dispatch.lifecycle import NETWORK

    rng = random.Random(args.seed)
    skus = [f"sku-{j:06d}" for j in range(args.skus)]
    rounds = args.repeat
    delta_rounds = 5 * args.repeat
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
                "changes": [{"sku": s, "delta": rng.randint(1, 20)} for s in rng.sample(skus, args.delta)],
            }
        ).encode()
        for r in range(delta_rounds)
    ]
    say(f"snapshot body {len(snapshots[0]) / 1e6:.1f} MB, delta body {len(deltas[0]) / 1e3:.0f} kB")
    errors: list[str] = []

    async def send(session, method: str, url: str, body: bytes, headers: dict) -> float:
        started = time.perf_counter()
        async with session.request(method, url, data=body, headers=headers) as response:
            text = await response.read()
            if response.status != 200:
                errors.append(f"{method} {response.status} {text[:200]!r}")
        return time.perf_counter() - started

    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        say("baseline: the same bodies to a do-nothing handler")
        plain = {"Content-Type": "application/json"}
        async with running_noop() as noop_url:
            noop_snapshot = [await send(session, "PUT", noop_url + "/s", b, plain) for b in snapshots]
            noop_delta = [await send(session, "PATCH", noop_url + "/s", b, plain) for b in deltas]
        errors.clear()  # the no-op answers 201
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
            async with session.put(store_url, json=store, headers=headers) as response:
                if response.status not in (200, 201):
                    errors.append(f"store {response.status} {await response.text()}")
            snapshot_s = []
            for r, body in enumerate(snapshots):
                snapshot_s.append(await send(session, "PUT", store_url + "/stock", body, headers))
                say(f"snapshot {r + 1}/{rounds}: {snapshot_s[-1]:.2f} s")
            delta_s = [await send(session, "PATCH", store_url + "/stock", b, headers) for b in deltas]
            say(f"{delta_rounds} deltas: median {percentile(delta_s, 50) * 1000:.1f} ms")

    worst = max(snapshot_s)
    delta_ms = [x * 1000 for x in delta_s]
    print_table(
        f"stock sync: one store, {args.skus:,}-SKU snapshots, {args.delta:,}-change deltas",
        ["operation", "runs", "median", "worst", "no-op baseline median", "rate"],
        [
            ["snapshot (s)", rounds, percentile(snapshot_s, 50), worst,
             percentile(noop_snapshot, 50), f"{args.skus / percentile(snapshot_s, 50):,.0f} SKU/s"],
            ["first snapshot, all inserts (s)", 1, snapshot_s[0], snapshot_s[0], noop_snapshot[0], ""],
            ["delta (ms)", delta_rounds, percentile(delta_ms, 50), max(delta_ms),
             percentile(noop_delta, 50) * 1000, f"{args.delta / percentile(delta_s, 50):,.0f} changes/s"],
        ],
    )
    for line in errors[:5]:
        say(f"error: {line}")
    return {
        "snapshot_skus_per_s": rounded(args.skus / percentile(snapshot_s, 50), 0),
        "snapshot_s": rounded(percentile(snapshot_s, 50), 3),
        "snapshot_s_worst": rounded(worst, 3),
        "snapshot_s_first": rounded(snapshot_s[0], 3),
        "delta_1000_ms": rounded(percentile(delta_ms, 50)),
        "delta_ms_worst": rounded(max(delta_ms)),
        "noop_snapshot_s": rounded(percentile(noop_snapshot, 50), 3),
        "noop_delta_ms": rounded(percentile(noop_delta, 50) * 1000),
        "skus": args.skus,
        "delta_changes": args.delta,
        "repeat": rounds,
        "errors": len(errors),
    }
