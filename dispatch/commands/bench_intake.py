"""`flashdispatch bench intake`: sustained order intake through HTTP and PostgreSQL.

Starts the service in this process on 127.0.0.1 over a scratch database (synchronous_commit
as the server has it, normally on), registers ``--stores`` stores spread over the road network
with ample stock through the API, then posts orders with unique ids and drop-offs sampled from
network nodes that some store reaches, for ``--seconds``, from ``--concurrency`` keep-alive
connections in a separate process (Debian's ``wrk`` when installed, else an aiohttp client
process). The ceiling ``noop_rps`` is a do-nothing aiohttp handler measured with the same load
generator in the same run. Prints a table, then one JSON line. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --stores, --seconds, --concurrency, --road-network, --load-generator."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured time per phase")
    parser.add_argument(
        "--concurrency", type=int, default=32,
        help="keep-alive connections (default 32: an order system with 32 requests in flight;"
        " more connections raise throughput a little and latency a lot, Little's law)",
    )
    parser.add_argument("--road-network", type=Path, metavar="FILE",
                        help="overrides FLASHDISPATCH_ROAD_NETWORK / the bundled network")
    parser.add_argument("--skus", type=int, default=50, help="SKUs stocked in every store")
    parser.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto",
                        help="auto: wrk if installed, else an aiohttp client process")
    parser.add_argument("--client-processes", type=int, default=1,
                        help="processes of the python load generator")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="database pool of the service (default FLASHDISPATCH_DB_POOL_SIZE or 10)")
    parser.add_argument("--synchronous-commit", choices=("on", "off"), default="on",
                        help="for diagnosis only: off shows what WAL flushes cost")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="cProfile the service process while orders are measured (pstats file)")
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if args.stores < 1 or args.seconds <= 0 or args.concurrency < 1 or args.skus < 1:
        say("flashdispatch bench intake: --stores, --seconds, --concurrency and --skus must be positive")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    return 0 if summary["errors"] == 0 else 1


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def measure(args: argparse.Namespace, settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import cProfile
    import secrets
    import time

    import aiohttp

    from dispatch.bench.city import create_token, plan_city, seed_stores
    from dispatch.bench.report import print_table, rounded, say
    from dispatch.bench.server import (
        backend_cpu_s,
        database_setting,
        running_noop,
        running_service,
    )
    from dispatch.bench.wrk import wrk_path
    from dispatch.keys import SERVICES
    from geo.loading import load_road_network

    generator = args.load_generator
    if generator == "auto":
        generator = "wrk" if wrk_path() else "python"
    if generator == "wrk" and not wrk_path():
        raise SystemExit("flashdispatch bench intake: wrk is not installed (apt-get install -y wrk)")
    path = args.road_network or settings.road_network
    network = await asyncio.to_thread(load_road_network, path, cache_dir=settings.home / "cache")
    city = plan_city(network, stores=args.stores, skus=args.skus, seed=args.seed,
                     radius_s=settings.policy.default_radius_minutes * 60.0)
    say(f"{args.stores} stores on {network.node_count:,} nodes, {len(city.drop_points)} drop-off nodes;"
        f" load generator: {generator}, {args.concurrency} connections")
    run_id = secrets.token_hex(4)

    async def drive(base_url: str, token: str, seconds: float, tag: str, db_url: str | None = None) -> dict:
        cpu0 = time.process_time()
        client0 = _children_cpu_s()
        db0 = await backend_cpu_s(db_url) if db_url else 0.0
        figures = await _drive(base_url, token, seconds, tag)
        cpu_s = time.process_time() - cpu0
        requests = max(1, figures["requests"])
        figures["cpu_ms_per_request"] = cpu_s * 1000 / requests
        figures["client_cpu_ms_per_request"] = (_children_cpu_s() - client0) * 1000 / requests
        figures["db_cpu_ms_per_request"] = (
            (await backend_cpu_s(db_url) - db0) * 1000 / requests if db_url else float("nan")
        )
        return figures

    async def _drive(base_url: str, token: str, seconds: float, tag: str) -> dict:
        if generator == "wrk":
            from dispatch.bench.wrk import run_wrk_orders

            ok = 201
            figures = await asyncio.to_thread(
                run_wrk_orders, base_url, city=city, token=token, run_id=f"{run_id}{tag}",
                seconds=seconds, connections=args.concurrency, ok_status=ok, seed=args.seed,
            )
            return {"rps": figures.rps, "p50_ms": figures.p50_ms, "p99_ms": figures.p99_ms,
                    "errors": figures.errors, "requests": figures.requests, "samples": []}
        from dispatch.bench.load_generator import run_load
        from dispatch.bench.workloads import OrderWorkload

        result = await asyncio.to_thread(
            run_load, base_url, OrderWorkload(city, token, f"{run_id}{tag}", seed=args.seed),
            concurrency=args.concurrency, seconds=seconds, processes=args.client_processes,
        )
        f = result.figures("orders")
        return {"rps": f.rps, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms, "errors": f.errors,
                "requests": f.requests, "samples": result.samples.get("orders", [])}

    say("ceiling: a do-nothing handler, same load generator")
    async with running_noop() as noop_url:
        await drive(noop_url, "noop", 1.0, "w")
        noop = await drive(noop_url, "noop", min(args.seconds, 5.0), "n")
    say(f"  {noop['rps']:,.0f} requests/s")
    say("starting the service on a scratch database")
    async with running_service(
        settings, road_network=network, pool_max_size=args.pool_size,
        synchronous_commit=args.synchronous_commit,
    ) as service:
        sync_commit = await database_setting(service.database_url, "synchronous_commit")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            await seed_stores(session, service.base_url, service.operator_token, city, quantity=10_000_000)
            token = await create_token(session, service.base_url, service.operator_token, "order_system")
        say("warming up")
        await drive(service.base_url, token, 1.0, "w")
        say(f"placing orders for {args.seconds:g} s")
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            profiler.enable()
        batcher = service.app[SERVICES].batcher
        batches0, batched0 = batcher.batches, batcher.orders
        orders = await drive(service.base_url, token, args.seconds, "m", service.database_url)
        batches = batcher.batches - batches0
        mean_batch = (batcher.orders - batched0) / batches if batches else float("nan")
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
            say(f"profile written to {args.profile}")
    ratio = orders["rps"] / noop["rps"] if noop["rps"] else float("nan")
    print_table(
        f"order intake: {args.stores} stores, {args.concurrency} connections, {generator},"
        f" synchronous_commit={sync_commit}",
        ["target", "requests", "per second", "p50 ms", "p99 ms", "errors", "service CPU ms/req",
         "PostgreSQL CPU ms/req", "client CPU ms/req"],
        [
            ["POST /v1/orders", orders["requests"], orders["rps"], orders["p50_ms"], orders["p99_ms"],
             orders["errors"], orders["cpu_ms_per_request"], orders["db_cpu_ms_per_request"],
             orders["client_cpu_ms_per_request"]],
            ["do-nothing handler", noop["requests"], noop["rps"], noop["p50_ms"], noop["p99_ms"],
             noop["errors"], noop["cpu_ms_per_request"], None, noop["client_cpu_ms_per_request"]],
        ],
    )
    for sample in orders["samples"]:
        say(f"error: {sample}")
    return {
        "orders_per_s": rounded(orders["rps"], 1),
        "p50_ms": rounded(orders["p50_ms"]),
        "p99_ms": rounded(orders["p99_ms"]),
        "noop_rps": rounded(noop["rps"], 1),
        "ratio": rounded(ratio, 3),
        "errors": orders["errors"],
        "orders": orders["requests"],
        "server_cpu_ms_per_order": rounded(orders["cpu_ms_per_request"], 3),
        "db_cpu_ms_per_order": rounded(orders["db_cpu_ms_per_request"], 3),
        "client_cpu_ms_per_order": rounded(orders["client_cpu_ms_per_request"], 3),
        "noop_cpu_ms_per_request": rounded(noop["cpu_ms_per_request"], 3),
        "mean_batch": rounded(mean_batch),
        "stores": args.stores,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "synchronous_commit": sync_commit,
        "load_generator": generator,
        "pool_size": args.pool_size or settings.pool_max_size,
    }
