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
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatch.settings import RATE_LIMIT_VARIABLES

if TYPE_CHECKING:
    import cProfile

    from dispatch.bench.city import BenchCity
    from dispatch.postgres.ledger import Ledger
    from dispatch.settings import Settings
    from geo.network import RoadNetwork


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
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="measure real `serve --workers k` process groups for k = 1..N in this run"
                        " (default 0: the service in this process)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    if args.stores < 1 or args.seconds <= 0 or args.concurrency < 1 or args.skus < 1 or args.workers < 0:
        say("flashdispatch bench intake: --stores, --seconds, --concurrency and --skus must be positive")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    books_ok = summary["lost_orders"] == 0 and summary["reservation_mismatches"] == 0
    return 0 if summary["errors"] == 0 and books_ok else 1


def _children_cpu_s() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


async def measure(args: argparse.Namespace, settings: Settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import secrets

    from dispatch.bench.city import plan_city
    from dispatch.bench.report import say
    from dispatch.bench.server import running_noop
    from geo.loading import load_road_network

    generator = _load_generator(args.load_generator)
    settings = _without_order_limit(settings)
    path = args.road_network or settings.road_network
    network = await asyncio.to_thread(load_road_network, path, cache_dir=settings.home / "cache")
    city = plan_city(network, stores=args.stores, skus=args.skus, seed=args.seed,
                     radius_s=settings.policy.default_radius_minutes * 60.0)
    say(f"{args.stores} stores on {network.node_count:,} nodes, {len(city.drop_points)} drop-off nodes;"
        f" load generator: {generator}, {args.concurrency} connections")
    driver = _Driver(generator, city, secrets.token_hex(4), args)
    say("ceiling: a do-nothing handler, same load generator")
    async with running_noop() as noop_url:
        await driver.drive(noop_url, "noop", seconds=1.0, tag="w")
        noop = await driver.drive(noop_url, "noop", seconds=min(args.seconds, 5.0), tag="n")
    say(f"  {noop['rps']:,.0f} requests/s")
    if args.workers:
        groups = await _measure_groups(args, settings, network=network, driver=driver)
        _print_groups_table(args, generator=generator, groups=groups, noop=noop)
        return _groups_summary(args, generator=generator, groups=groups, noop=noop)
    service = await _measure_service(args, settings, network=network, driver=driver)
    _print_intake_table(args, generator=generator, service=service, noop=noop)
    return _summary(args, settings, generator=generator, service=service, noop=noop)


def _load_generator(choice: str) -> str:
    """``wrk`` or ``python``: auto picks wrk when installed; asking for a missing wrk exits."""
    from dispatch.bench.wrk import wrk_path

    generator = choice
    if generator == "auto":
        generator = "wrk" if wrk_path() else "python"
    if generator == "wrk" and not wrk_path():
        raise SystemExit("flashdispatch bench intake: wrk is not installed (apt-get install -y wrk)")
    return generator


@dataclass(frozen=True, slots=True)
class _Driver:
    """Posts unique orders with the chosen load generator and measures what each request cost."""

    generator: str  # "wrk" or "python"
    city: BenchCity
    run_id: str
    args: argparse.Namespace

    async def drive(self, base_url: str, token: str, *, seconds: float, tag: str,
                    db_url: str | None = None) -> dict[str, Any]:
        """Load figures plus CPU per request: this process, the client processes, PostgreSQL."""
        from dispatch.bench.server import backend_cpu_s

        cpu0 = time.process_time()
        client0 = _children_cpu_s()
        db0 = await backend_cpu_s(db_url) if db_url else 0.0
        figures = await self._load(base_url, token, seconds=seconds, tag=tag)
        cpu_s = time.process_time() - cpu0
        requests = max(1, figures["requests"])
        figures["cpu_ms_per_request"] = cpu_s * 1000 / requests
        figures["client_cpu_ms_per_request"] = (_children_cpu_s() - client0) * 1000 / requests
        figures["db_cpu_ms_per_request"] = (
            (await backend_cpu_s(db_url) - db0) * 1000 / requests if db_url else float("nan")
        )
        figures["ok"] = max(0, figures["requests"] - figures["errors"])
        return figures

    async def _load(self, base_url: str, token: str, *, seconds: float, tag: str) -> dict[str, Any]:
        """Run the load generator: rps, p50/p99, errors, requests and error samples."""
        import asyncio

        args = self.args
        if self.generator == "wrk":
            from dispatch.bench.wrk import WrkOrders, run_wrk_orders

            orders = WrkOrders(self.city, token, f"{self.run_id}{tag}", ok_status=201, seed=args.seed)
            figures = await asyncio.to_thread(
                run_wrk_orders, base_url, orders, seconds=seconds, connections=args.concurrency
            )
            return {"rps": figures.rps, "p50_ms": figures.p50_ms, "p99_ms": figures.p99_ms,
                    "errors": figures.errors, "requests": figures.requests, "samples": []}
        from dispatch.bench.load_generator import run_load
        from dispatch.bench.workloads import OrderWorkload

        result = await asyncio.to_thread(
            run_load, base_url, OrderWorkload(self.city, token, f"{self.run_id}{tag}", seed=args.seed),
            concurrency=args.concurrency, seconds=seconds, processes=args.client_processes,
        )
        f = result.figures("orders")
        return {"rps": f.rps, "p50_ms": f.p50_ms, "p99_ms": f.p99_ms, "errors": f.errors,
                "requests": f.requests, "samples": result.samples.get("orders", [])}


@dataclass(frozen=True, slots=True)
class _ServiceRun:
    """The service's figures for the measured orders, and how it was set up."""

    orders: dict[str, Any]
    synchronous_commit: str
    mean_batch: float
    ledger: Ledger


# The bench measures intake, not the rate limiter: past the default budget (2,000 orders/s per
# token) a fast run had part of its orders answered 429, which look cheap and inflated the ratio.
_UNLIMITED_ORDERS = 1e9
_UNLIMITED_ORDERS_ENV = {RATE_LIMIT_VARIABLES[name]: f"{_UNLIMITED_ORDERS:g}"
                         for name in ("orders_per_s", "orders_burst")}


def _without_order_limit(settings: Settings) -> Settings:
    limits = dataclasses.replace(settings.rate_limits, orders_per_s=_UNLIMITED_ORDERS,
                                 orders_burst=_UNLIMITED_ORDERS)
    return dataclasses.replace(settings, rate_limits=limits)


async def _measure_service(args: argparse.Namespace, settings: Settings, *, network: RoadNetwork,
                           driver: _Driver) -> _ServiceRun:
    """Start the service, stock the stores, warm up, then place orders for ``--seconds``."""
    import aiohttp

    from dispatch.bench.city import create_token, seed_stores
    from dispatch.bench.report import say
    from dispatch.bench.server import database_setting, running_service
    from dispatch.keys import SERVICES

    say("starting the service on a scratch database")
    async with running_service(
        settings, road_network=network, pool_max_size=args.pool_size,
        synchronous_commit=args.synchronous_commit,
    ) as service:
        sync_commit = await database_setting(service.database_url, "synchronous_commit")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
            await seed_stores(session, service.base_url, service.operator_token, driver.city,
                              quantity=10_000_000)
            token = await create_token(session, service.base_url, service.operator_token, "order_system")
        say("warming up")
        warm = await driver.drive(service.base_url, token, seconds=1.0, tag="w")
        say(f"placing orders for {args.seconds:g} s")
        profiler = _start_profile(args.profile)
        batcher = service.app[SERVICES].batcher
        batches0, batched0 = batcher.batches, batcher.orders
        orders = await driver.drive(service.base_url, token, seconds=args.seconds, tag="m",
                                    db_url=service.database_url)
        batches = batcher.batches - batches0
        mean_batch = (batcher.orders - batched0) / batches if batches else float("nan")
        _stop_profile(profiler, args.profile)
        ledger = await _checked_books(service.database_url, confirmed=warm["ok"] + orders["ok"])
    return _ServiceRun(orders, sync_commit, mean_batch, ledger)


async def _checked_books(database_url: str, *, confirmed: int) -> Ledger:
    """The database after the orders: none of the ``confirmed`` (201) missing, reservations exact."""
    import asyncio

    from dispatch.bench.report import say
    from dispatch.postgres.ledger import read_ledger

    await asyncio.sleep(0.5)  # orders the load generator gave up on at its deadline finish first
    ledger = await read_ledger(database_url)
    ledger = dataclasses.replace(ledger, missing=max(0, confirmed - ledger.orders))
    say(f"database: {ledger.orders} orders for {confirmed} confirmed, {ledger.missing} missing,"
        f" {ledger.reservation_mismatches} stock rows whose reservation differs from open orders' lines")
    return ledger


def _start_profile(path: Path | None) -> cProfile.Profile | None:
    """A running profiler when ``--profile`` is given."""
    import cProfile

    if path is None:
        return None
    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _stop_profile(profiler: cProfile.Profile | None, path: Path | None) -> None:
    """Stop the profiler and write its pstats file."""
    from dispatch.bench.report import say

    if profiler is None or path is None:
        return
    profiler.disable()
    profiler.dump_stats(path)
    say(f"profile written to {path}")


def _print_intake_table(args: argparse.Namespace, *, generator: str, service: _ServiceRun,
                        noop: dict[str, Any]) -> None:
    """Orders against the do-nothing ceiling, with CPU per request on each side."""
    from dispatch.bench.report import print_table, say

    orders = service.orders
    print_table(
        f"order intake: {args.stores} stores, {args.concurrency} connections, {generator},"
        f" synchronous_commit={service.synchronous_commit}",
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


def _summary(args: argparse.Namespace, settings: Settings, *, generator: str, service: _ServiceRun,
             noop: dict[str, Any]) -> dict[str, Any]:
    """The JSON line's figures."""
    from dispatch.bench.report import rounded

    orders = service.orders
    ratio = orders["rps"] / noop["rps"] if noop["rps"] else float("nan")
    return {
        **service.ledger.as_json(),
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
        "mean_batch": rounded(service.mean_batch),
        "stores": args.stores,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "synchronous_commit": service.synchronous_commit,
        "load_generator": generator,
        "pool_size": args.pool_size or settings.pool_max_size,
    }


@dataclass(frozen=True, slots=True)
class _GroupRun:
    """One ``serve --workers k`` group's figures for the measured orders."""

    workers: int
    orders: dict[str, Any]
    service_cpu_ms_per_order: float


@dataclass(frozen=True, slots=True)
class _Groups:
    runs: list[_GroupRun]
    ledger: Ledger


async def _measure_groups(args: argparse.Namespace, settings: Settings, *, network: RoadNetwork,
                          driver: _Driver) -> _Groups:
    """Stock the stores once in a scratch database, then place orders through ``serve --workers k``
    for k = 1..N, one group after the other (a fresh process group each), and check the books."""
    import aiohttp

    from dispatch.bench.city import create_token, seed_stores
    from dispatch.bench.group import running_group
    from dispatch.bench.report import say
    from dispatch.bench.server import running_service, scratch_database

    async with scratch_database(settings) as url:
        say("stocking the stores on a scratch database")
        async with (running_service(settings, road_network=network, database_url=url) as service,
                    aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session):
            await seed_stores(session, service.base_url, service.operator_token, driver.city,
                              quantity=10_000_000)
            token = await create_token(session, service.base_url, service.operator_token, "order_system")
        runs, confirmed = [], 0
        for workers in range(1, args.workers + 1):
            say(f"serve --workers {workers}: starting")
            async with running_group(url, workers=workers, operator_token=service.operator_token,
                                     home=settings.home, road_network=args.road_network,
                                     env=_UNLIMITED_ORDERS_ENV) as group:
                warm = await driver.drive(group.base_url, token, seconds=1.0, tag=f"w{workers}")
                say(f"serve --workers {workers}: placing orders for {args.seconds:g} s")
                cpu0 = group.cpu_s()
                orders = await driver.drive(group.base_url, token, seconds=args.seconds, tag=f"m{workers}",
                                            db_url=url)
                cpu_ms = (group.cpu_s() - cpu0) * 1000 / max(1, orders["requests"])
            confirmed += warm["ok"] + orders["ok"]
            runs.append(_GroupRun(workers, orders, cpu_ms))
        ledger = await _checked_books(url, confirmed=confirmed)
    return _Groups(runs, ledger)


def _print_groups_table(args: argparse.Namespace, *, generator: str, groups: _Groups,
                        noop: dict[str, Any]) -> None:
    from dispatch.bench.report import print_table

    base = groups.runs[0].orders["rps"] or float("nan")
    rows = [[f"serve --workers {r.workers}", r.orders["requests"], r.orders["rps"], r.orders["rps"] / base,
             r.orders["p50_ms"], r.orders["p99_ms"], r.orders["errors"], r.service_cpu_ms_per_order,
             r.orders["db_cpu_ms_per_request"], r.orders["client_cpu_ms_per_request"]] for r in groups.runs]
    rows.append(["do-nothing handler (1 process)", noop["requests"], noop["rps"], None, noop["p50_ms"],
                 noop["p99_ms"], noop["errors"], noop["cpu_ms_per_request"], None,
                 noop["client_cpu_ms_per_request"]])
    print_table(
        f"order intake by API processes: {args.stores} stores, {args.concurrency} connections, {generator}",
        ["target", "requests", "per second", "× 1 worker", "p50 ms", "p99 ms", "errors",
         "service CPU ms/req", "PostgreSQL CPU ms/req", "client CPU ms/req"],
        rows,
    )


def _groups_summary(args: argparse.Namespace, *, generator: str, groups: _Groups,
                    noop: dict[str, Any]) -> dict[str, Any]:
    from dispatch.bench.report import rounded

    base = groups.runs[0].orders["rps"]
    per_k = [{"workers": r.workers, "orders_per_s": rounded(r.orders["rps"], 1),
              "p50_ms": rounded(r.orders["p50_ms"]), "p99_ms": rounded(r.orders["p99_ms"]),
              "errors": r.orders["errors"],
              "scaling": rounded(r.orders["rps"] / base if base else float("nan"), 3),
              "ratio": rounded(r.orders["rps"] / noop["rps"] if noop["rps"] else float("nan"), 3),
              "service_cpu_ms_per_order": rounded(r.service_cpu_ms_per_order, 3),
              "db_cpu_ms_per_order": rounded(r.orders["db_cpu_ms_per_request"], 3),
              "client_cpu_ms_per_order": rounded(r.orders["client_cpu_ms_per_request"], 3)}
             for r in groups.runs]
    top = per_k[-1]
    return {
        **groups.ledger.as_json(),
        **{k: top[k] for k in ("orders_per_s", "p50_ms", "p99_ms", "ratio")},
        "errors": sum(r.orders["errors"] for r in groups.runs),
        "workers": per_k,
        "scaling": top["scaling"],
        "noop_rps": rounded(noop["rps"], 1),
        "stores": args.stores,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "load_generator": generator,
    }
