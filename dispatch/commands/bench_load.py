"""`flashdispatch bench load`: a mixed workload against the service with the dispatch loop on.

Starts the service in this process on 127.0.0.1 over a scratch database with the dispatch loop
running, registers ``--stores`` stores and ``--couriers`` couriers on shift through the API,
then, from an aiohttp client process, mixes order placement, stock deltas, courier positions
and order reads for ``--seconds``. Afterwards it checks that every order answered 201 is in
the database, counts 5xx answers, and measures how much a flood of requests with unknown
tokens slows good orders (p50 with the flood / p50 without, both measured in this run).
Prints a table, then one JSON line. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatch.bench.city import BenchCity
    from dispatch.bench.load_generator import EndpointFigures, LoadResult
    from dispatch.bench.server import RunningService
    from dispatch.settings import Settings

ENDPOINTS = ("orders", "stock_deltas", "positions", "order_reads")


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --seconds, --stores, --couriers, --concurrency, --road-network."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--seconds", type=float, default=20.0, help="time of the mixed workload")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--couriers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections")
    parser.add_argument("--flood-seconds", type=float, default=None,
                        help="each phase of the bad-token comparison (default: a quarter of --seconds)")
    parser.add_argument("--road-network", type=Path, metavar="FILE",
                        help="overrides FLASHDISPATCH_ROAD_NETWORK / the bundled network")
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if min(args.seconds, args.stores, args.couriers, args.concurrency, args.skus) <= 0:
        say("flashdispatch bench load: every count and --seconds must be positive")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    failed = summary["server_errors_5xx"] or summary["lost_orders"]
    failed = failed or any(summary[name]["errors"] for name in ENDPOINTS)
    return 1 if failed else 0


async def measure(args: argparse.Namespace, settings: Settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import secrets

    from dispatch.bench.city import plan_city
    from dispatch.bench.report import say
    from dispatch.bench.server import running_service
    from geo.loading import load_road_network

    path = args.road_network or settings.road_network
    network = await asyncio.to_thread(load_road_network, path, cache_dir=settings.home / "cache")
    city = plan_city(network, stores=args.stores, skus=args.skus, seed=args.seed,
                     radius_s=settings.policy.default_radius_minutes * 60.0)
    run_id = secrets.token_hex(4)
    say("starting the service (dispatch loop on) on a scratch database")
    async with running_service(settings, road_network=network, run_dispatch_loop=True) as service:
        token, couriers = await _seed_service(service, city, couriers=args.couriers)
        phases = await _run_phases(args, service, _Traffic(city, token, couriers, run_id))
        found, assigned = await _count_orders(service.database_url, phases.placed())
    _print_load_table(args, phases)
    return _summary(args, phases, found=found, assigned=assigned)


async def _seed_service(service: RunningService, city: BenchCity, *,
                        couriers: int) -> tuple[str, tuple[str, ...]]:
    """Stock every store, put couriers on shift, and make an order-system token."""
    import aiohttp

    from dispatch.bench.city import create_token, seed_couriers, seed_stores

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await seed_stores(session, service.base_url, service.operator_token, city, quantity=10_000_000)
        courier_ids = await seed_couriers(
            session, service.base_url, service.operator_token, city, couriers=couriers
        )
        token = await create_token(session, service.base_url, service.operator_token, "order_system")
    return token, courier_ids


@dataclass(frozen=True, slots=True)
class _Traffic:
    """Who sends what: the city, the order system's token, the couriers, and this run's id."""

    city: BenchCity
    order_token: str
    courier_ids: tuple[str, ...]
    run_id: str


@dataclass(frozen=True, slots=True)
class _Phases:
    """The mixed workload, then good orders alone and during a flood of bad tokens."""

    mixed: LoadResult
    quiet: LoadResult
    flooded: LoadResult
    flood: LoadResult

    def placed(self) -> list[str]:
        """Every order id answered 201."""
        return [*self.mixed.extra.get("placed", []), *self.quiet.extra.get("placed", []),
                *self.flooded.extra.get("placed", [])]

    def server_errors(self) -> int:
        """5xx answers in every phase."""
        return (self.mixed.server_errors() + self.quiet.server_errors() + self.flooded.server_errors()
                + self.flood.server_errors())


async def _run_phases(args: argparse.Namespace, service: RunningService, traffic: _Traffic) -> _Phases:
    """The mixed workload for ``--seconds``, then the bad-token comparison (two phases)."""
    import asyncio

    from dispatch.bench.load_generator import run_load
    from dispatch.bench.report import say
    from dispatch.bench.workloads import BadTokenWorkload, MixedWorkload, OrderWorkload

    city, token, run_id = traffic.city, traffic.order_token, traffic.run_id
    flood_s = args.flood_seconds or max(1.0, args.seconds / 4)
    mixed = MixedWorkload(city, token, service.operator_token, traffic.courier_ids, f"{run_id}m",
                          seed=args.seed)
    say(f"mixed workload for {args.seconds:g} s, {args.concurrency} connections")
    mixed_result = await asyncio.to_thread(
        run_load, service.base_url, mixed, concurrency=args.concurrency, seconds=args.seconds
    )
    say(f"bad-token comparison: {flood_s:g} s of orders alone, then {flood_s:g} s with a flood")
    good = OrderWorkload(city, token, f"{run_id}a", seed=args.seed + 1)
    quiet = await asyncio.to_thread(
        run_load, service.base_url, good, concurrency=max(1, args.concurrency // 2), seconds=flood_s
    )
    good = OrderWorkload(city, token, f"{run_id}b", seed=args.seed + 2)
    flooded, flood = await asyncio.gather(
        asyncio.to_thread(run_load, service.base_url, good,
                          concurrency=max(1, args.concurrency // 2), seconds=flood_s),
        asyncio.to_thread(run_load, service.base_url, BadTokenWorkload(),
                          concurrency=args.concurrency, seconds=flood_s),
    )
    return _Phases(mixed_result, quiet, flooded, flood)


async def _count_orders(database_url: str, placed: list[str]) -> tuple[int, int]:
    """How many of the confirmed orders are in the database, and how many have a courier."""
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        found = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE order_id = ANY($1::text[])", placed
        )
        assigned = await conn.fetchval(
            "SELECT count(*) FROM orders WHERE order_id = ANY($1::text[]) AND courier_id IS NOT NULL",
            placed,
        )
    finally:
        await conn.close()
    return found, assigned


def _print_load_table(args: argparse.Namespace, phases: _Phases) -> None:
    """Each endpoint of the mixed workload, then the bad-token comparison; a few error samples."""
    from dispatch.bench.report import print_table, say

    figures = {name: phases.mixed.figures(name) for name in ENDPOINTS}
    rows = [[name, f.requests, f.rps, f.p50_ms, f.p99_ms, f.errors] for name, f in figures.items()]
    rows.append(["orders, alone (bad-token baseline)", *_row(phases.quiet.figures("orders"))])
    rows.append(["orders, during the flood", *_row(phases.flooded.figures("orders"))])
    rows.append(["bad tokens (401 expected)", *_row(phases.flood.figures("bad_token"))])
    print_table(
        f"mixed load: {args.stores} stores, {args.couriers} couriers, {args.concurrency} connections,"
        f" dispatch loop on, aiohttp client process",
        ["endpoint", "requests", "per second", "p50 ms", "p99 ms", "errors"],
        rows,
    )
    for name, samples in {**phases.mixed.samples, **phases.quiet.samples, **phases.flooded.samples}.items():
        for sample in samples[:3]:
            say(f"error on {name}: {sample}")


def _summary(args: argparse.Namespace, phases: _Phases, *, found: int, assigned: int) -> dict[str, Any]:
    """The JSON line's figures."""
    from dispatch.bench.report import rounded

    quiet_p50 = phases.quiet.figures("orders").p50_ms
    flooded_p50 = phases.flooded.figures("orders").p50_ms
    placed = phases.placed()
    return {
        **{name: phases.mixed.figures(name).as_json() for name in ENDPOINTS},
        "server_errors_5xx": phases.server_errors(),
        "lost_orders": len(placed) - found,
        "orders_confirmed": len(placed),
        "orders_assigned_to_couriers": assigned,
        "bad_token_slowdown": rounded(flooded_p50 / quiet_p50 if quiet_p50 else float("nan"), 3),
        "bad_token_rps": rounded(phases.flood.figures("bad_token").rps, 1),
        "stores": args.stores,
        "couriers": args.couriers,
        "seconds": args.seconds,
        "load_generator": "aiohttp client process",
    }


def _row(f: EndpointFigures) -> list:
    return [f.requests, f.rps, f.p50_ms, f.p99_ms, f.errors]
