"""`flashdispatch bench load`: a mixed workload against `serve --workers 2` with a separate dispatcher.

Each phase starts from the same state: a scratch database with ``--stores`` stores and
``--couriers`` couriers on shift (seeded through the API), and a fresh ``serve --workers N``
process group over it. First the capacity: the mix (orders, stock deltas, courier positions,
order reads) in a closed loop from many connections, dispatch rounds off. Then the same mix in an
open loop (every connection on a fixed schedule; a latency counts from when its request was due)
at each ``--levels`` share of that capacity, once with the dispatcher's rounds off (its interval
set to a day) and once with them running every ``FLASHDISPATCH_DISPATCH_INTERVAL_S``; the
ratio p99(rounds on) / p99(rounds off) says what rounds cost the API (with ``--repeat N``, N
off/on pairs per level and the ratio of their median p99s). The client is several
processes; their CPU is reported. After every phase the database is checked: every order
answered 201 is there and every reserved unit belongs to an open order's line. The capacity
group also measures how much a flood of unknown tokens slows good orders. Prints a table, then
one JSON line. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dispatch.bench.city import BenchCity
    from dispatch.bench.group import RunningGroup
    from dispatch.bench.load_generator import EndpointFigures, LoadResult
    from dispatch.postgres.ledger import Ledger
    from dispatch.settings import Settings
    from geo.network import RoadNetwork

ENDPOINTS = ("orders", "stock_deltas", "positions", "order_reads")
ROUNDS_OFF_INTERVAL_S = 86_400.0  # "off": the dispatcher runs, its next round is a day away


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --seconds, --levels, --workers, --stores, --couriers, --client-processes, …"""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time of each phase")
    parser.add_argument("--levels", default="0.5,0.8", help="shares of the measured capacity to run at")
    parser.add_argument("--workers", type=int, default=2, help="API processes (serve --workers)")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--couriers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64,
                        help="connections of the capacity phase (closed loop)")
    parser.add_argument("--client-processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--flood-seconds", type=float, default=None,
                        help="each phase of the bad-token comparison (default: a quarter of --seconds)")
    parser.add_argument("--road-network", type=Path, metavar="FILE",
                        help="overrides FLASHDISPATCH_ROAD_NETWORK / the bundled network")
    parser.add_argument("--skus", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1,
                        help="off/on pairs per level; the ratio compares the median p99s (noisy machines)")


def _levels(text: str) -> list[float]:
    levels = [float(x) for x in text.split(",") if x.strip()]
    if not levels or any(not 0 < x <= 1.5 for x in levels):
        raise ValueError("--levels: shares of capacity between 0 and 1.5, comma-separated")
    return levels


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    import asyncio

    from dispatch.bench.report import print_summary, say

    try:
        args.level_list = _levels(args.levels)
    except ValueError as exc:
        say(f"flashdispatch bench load: {exc}")
        return 2
    if min(args.seconds, args.stores, args.couriers, args.concurrency, args.skus, args.workers,
           args.client_processes, args.repeat) <= 0:
        say("flashdispatch bench load: every count and --seconds must be positive")
        return 2
    summary = asyncio.run(measure(args, settings))
    print_summary(summary)
    failed = summary["server_errors_5xx"] or summary["lost_orders"] or summary["reservation_mismatches"]
    return 1 if failed or summary["errors"] else 0


@dataclass(frozen=True, slots=True)
class _Phase:
    """One group's run: the mix's result, rounds the dispatcher ran, and the books afterwards."""

    name: str
    rounds_on: bool
    level: float | None  # share of capacity; None: the closed-loop capacity phase
    target_rps: float | None
    result: LoadResult
    rounds: int
    round_ms_mean: float
    ledger: Ledger
    extra: dict[str, Any]
    wal_bytes: int  # WAL the database wrote during the mix (rounds' predictions and events included)
    service_cpu_s: float  # the serve --workers group (API processes, dispatcher, parent) during the mix
    database_cpu_s: dict[str, float]  # PostgreSQL's sessions during the mix, by application_name


@dataclass(frozen=True, slots=True)
class _Bench:
    """What every phase shares: the arguments, the settings, the map and the city."""

    args: argparse.Namespace
    settings: Settings
    network: RoadNetwork
    city: BenchCity
    run_id: str


async def measure(args: argparse.Namespace, settings: Settings) -> dict:
    """The benchmark's core: returns the summary (also prints the table)."""
    import asyncio
    import secrets

    from dispatch.bench.city import plan_city
    from dispatch.bench.report import say
    from geo.loading import load_road_network

    path = args.road_network or settings.road_network
    network = await asyncio.to_thread(load_road_network, path, cache_dir=settings.home / "cache")
    city = plan_city(network, stores=args.stores, skus=args.skus, seed=args.seed,
                     radius_s=settings.policy.default_radius_minutes * 60.0)
    bench = _Bench(args, settings, network, city, secrets.token_hex(4))
    capacity = await _phase(bench, name="capacity", rounds_on=False, level=None, capacity_rps=None)
    capacity_rps = sum(capacity.result.figures(n).rps for n in ENDPOINTS)
    say(f"capacity of the mix: {capacity_rps:,.0f} requests/s")
    phases = [capacity]
    for level in args.level_list:  # off and on back to back: what else runs on the machine drifts
        for _ in range(args.repeat):
            for rounds_on in (False, True):
                phases.append(await _phase(bench, name=f"{level:.0%} rounds {'on' if rounds_on else 'off'}",
                                           rounds_on=rounds_on, level=level, capacity_rps=capacity_rps))
    _print_load_table(args, phases)
    return _summary(args, phases, capacity_rps=capacity_rps)


async def _phase(bench: _Bench, *, name: str, rounds_on: bool, level: float | None,
                 capacity_rps: float | None) -> _Phase:
    """A scratch database, seeded; a ``serve --workers`` group over it; the load; the books."""
    from dispatch.bench.group import running_group
    from dispatch.bench.report import say
    from dispatch.bench.server import backend_cpu_by_application, running_service, scratch_database
    from dispatch.postgres.ledger import read_ledger
    from dispatch.postgres.wal import wal_position

    args, settings = bench.args, bench.settings
    env = {} if rounds_on else {"FLASHDISPATCH_DISPATCH_INTERVAL_S": str(ROUNDS_OFF_INTERVAL_S)}
    target = level * capacity_rps if level is not None and capacity_rps else None
    async with scratch_database(settings) as url:
        async with running_service(settings, road_network=bench.network, database_url=url) as service:
            token, couriers = await _seed(service.base_url, service.operator_token, bench.city,
                                          couriers=args.couriers)
        say(f"phase {name}: serve --workers {args.workers}"
            + (f", {target:,.0f} requests/s" if target else ", closed loop"))
        async with running_group(url, workers=args.workers, operator_token=service.operator_token,
                                 home=settings.home, env=env, road_network=args.road_network) as group:
            rounds0 = await _first_round(group)
            wal0, cpu0, db0 = await wal_position(url), group.cpu_s(), await backend_cpu_by_application(url)
            result = await _mixed(bench, group.base_url, token, service.operator_token, couriers,
                                  tag=f"{len(name)}{name[:2]}{int(rounds_on)}", target_rps=target)
            rounds1 = await _rounds(group)
            wal_bytes = await wal_position(url) - wal0
            cpu_s, db1 = group.cpu_s() - cpu0, await backend_cpu_by_application(url)
            db_cpu_s = {name: round(db1[name] - db0.get(name, 0.0), 2) for name in sorted(db1)}
            extra = await _flood(bench, group, token) if level is None else {}
        placed = [*result.extra.get("placed", []), *extra.pop("placed", [])]
        ledger = await read_ledger(url, confirmed=placed)
    count, seconds = rounds1[0] - rounds0[0], rounds1[1] - rounds0[1]
    return _Phase(name, rounds_on, level, target, result, int(count),
                  seconds * 1000 / count if count else float("nan"), ledger, extra, wal_bytes,
                  cpu_s, db_cpu_s)


async def _seed(base_url: str, operator_token: str, city: BenchCity, *,
                couriers: int) -> tuple[str, tuple[str, ...]]:
    """Stock every store, put couriers on shift, and make an order-system token."""
    import aiohttp

    from dispatch.bench.city import create_token, seed_couriers, seed_stores

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await seed_stores(session, base_url, operator_token, city, quantity=10_000_000)
        courier_ids = await seed_couriers(session, base_url, operator_token, city, couriers=couriers)
        token = await create_token(session, base_url, operator_token, "order_system")
    return token, courier_ids


async def _mixed(bench: _Bench, base_url: str, token: str, operator_token: str,
                 couriers: tuple[str, ...], *, tag: str, target_rps: float | None) -> LoadResult:
    """The mix: closed loop from ``--concurrency`` connections, or open loop at ``target_rps``."""
    import asyncio
    import math

    from dispatch.bench.load_generator import run_load
    from dispatch.bench.workloads import MixedWorkload

    args = bench.args
    workload = MixedWorkload(bench.city, token, operator_token, couriers, f"{bench.run_id}{tag}",
                             seed=args.seed)
    # open loop: enough connections for 100 ms of requests in flight, so the schedule is kept
    connections = args.concurrency if target_rps is None else max(16, min(512, math.ceil(target_rps * 0.1)))
    return await asyncio.to_thread(
        run_load, base_url, workload, concurrency=connections, seconds=args.seconds,
        processes=args.client_processes, warmup_s=1.0, rate_per_s=target_rps,
    )


async def _first_round(group: RunningGroup) -> tuple[float, float]:
    """Wait for the dispatcher's first round (it runs one at start, also when rounds are "off")."""
    import asyncio
    import time

    deadline = time.monotonic() + 120
    while (seen := await _rounds(group))[0] < 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the dispatcher ran no round in 120 s")
        await asyncio.sleep(0.2)
    return seen


async def _rounds(group: RunningGroup) -> tuple[float, float]:
    """Dispatch rounds so far and the seconds they took, from the dispatcher's /metrics."""
    import aiohttp

    count = seconds = 0.0
    async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
                session.get(group.dispatcher_url + "/metrics") as response):
        text = await response.text()
    for line in text.splitlines():
        if line.startswith("flashdispatch_dispatch_round_duration_seconds_count{"):
            count += float(line.rsplit(" ", 1)[1])
        elif line.startswith("flashdispatch_dispatch_round_duration_seconds_sum{"):
            seconds += float(line.rsplit(" ", 1)[1])
    return count, seconds


async def _flood(bench: _Bench, group: RunningGroup, token: str) -> dict[str, Any]:
    """Good orders alone, then the same during a flood of unknown tokens (p50 with / without)."""
    import asyncio

    from dispatch.bench.load_generator import run_load
    from dispatch.bench.report import say
    from dispatch.bench.workloads import BadTokenWorkload, OrderWorkload

    args = bench.args
    flood_s = args.flood_seconds or max(1.0, args.seconds / 4)
    half = max(1, args.concurrency // 4)
    say(f"bad-token comparison: {flood_s:g} s of orders alone, then {flood_s:g} s with a flood")
    good = OrderWorkload(bench.city, token, f"{bench.run_id}a", seed=args.seed + 1)
    quiet = await asyncio.to_thread(run_load, group.base_url, good, concurrency=half, seconds=flood_s)
    good = OrderWorkload(bench.city, token, f"{bench.run_id}b", seed=args.seed + 2)
    flooded, flood = await asyncio.gather(
        asyncio.to_thread(run_load, group.base_url, good, concurrency=half, seconds=flood_s),
        asyncio.to_thread(run_load, group.base_url, BadTokenWorkload(), concurrency=args.concurrency // 2,
                          seconds=flood_s, processes=args.client_processes),
    )
    quiet_p50, flooded_p50 = quiet.figures("orders").p50_ms, flooded.figures("orders").p50_ms
    return {
        "bad_token_slowdown": flooded_p50 / quiet_p50 if quiet_p50 else float("nan"),
        "bad_token_rps": flood.figures("bad_token").rps,
        "server_errors_5xx": quiet.server_errors() + flooded.server_errors() + flood.server_errors(),
        "placed": [*quiet.extra.get("placed", []), *flooded.extra.get("placed", [])],
    }


def _all_requests(result: LoadResult) -> EndpointFigures:
    """Every endpoint's requests together (the API's p99)."""
    from dispatch.bench.load_generator import EndpointFigures
    from dispatch.bench.report import percentile

    values = array("d")
    for name in ENDPOINTS:
        values.extend(result.latencies_ms.get(name, array("d")))
    return EndpointFigures(len(values), len(values) / result.seconds, percentile(values, 50),
                           percentile(values, 99), sum(result.errors.get(n, 0) for n in ENDPOINTS))


def _client_cpu(phase: _Phase) -> tuple[float, float]:
    """The load generator's CPU: ms per request and cores busy (warm-up second included)."""
    requests = max(1, sum(phase.result.figures(n).requests for n in ENDPOINTS))
    cpu_s = phase.result.client_cpu_s
    return cpu_s * 1000 / requests, cpu_s / (phase.result.seconds + 1.0)


def _print_load_table(args: argparse.Namespace, phases: list[_Phase]) -> None:
    """Per phase and endpoint: rate, p50, p99, errors; then rounds, client CPU and the books."""
    from dispatch.bench.report import print_table, say

    rows = []
    for phase in phases:
        for name in (*ENDPOINTS, "all"):
            f = _all_requests(phase.result) if name == "all" else phase.result.figures(name)
            rows.append([phase.name, name, f.requests, f.rps, f.p50_ms, f.p99_ms, f.errors])
    print_table(
        f"mixed load: serve --workers {args.workers} + a dispatcher process, {args.stores} stores,"
        f" {args.couriers} couriers, {args.client_processes} client processes",
        ["phase", "endpoint", "requests", "per second", "p50 ms", "p99 ms", "errors"],
        rows,
    )
    print_table(
        "per phase",
        ["phase", "target /s", "rounds", "round ms (mean)", "WAL MB", "service CPU s",
         "PostgreSQL CPU s (api, disp.)", "client CPU ms/req", "client cores", "orders in db", "lost",
         "reservation mismatches"],
        [[p.name, p.target_rps, p.rounds, p.round_ms_mean, p.wal_bytes / 1e6, p.service_cpu_s,
          _by_role(p.database_cpu_s), *_client_cpu(p), p.ledger.orders, p.ledger.missing,
          p.ledger.reservation_mismatches] for p in phases],
    )
    for phase in phases:
        for name, samples in phase.result.samples.items():
            for sample in samples[:3]:
                say(f"error on {name} ({phase.name}): {sample}")


def _by_role(cpu: dict[str, float]) -> str:
    """PostgreSQL's CPU for the API processes' sessions and the dispatcher's, as one table cell."""
    from dispatch.postgres.database import application_name

    api, dispatcher = (cpu.get(application_name(role), 0.0) for role in ("api", "dispatcher"))
    return f"{api:.2f}, {dispatcher:.2f}"


def _summary(args: argparse.Namespace, phases: list[_Phase], *, capacity_rps: float) -> dict[str, Any]:
    """The JSON line's figures."""
    from dispatch.bench.report import rounded

    def phase_json(p: _Phase) -> dict[str, Any]:
        cpu_ms, cores = _client_cpu(p)
        return {"name": p.name, "rounds_on": p.rounds_on, "level": p.level,
                "target_rps": rounded(p.target_rps or float("nan"), 1),
                **{n: p.result.figures(n).as_json() for n in ENDPOINTS},
                "all": _all_requests(p.result).as_json(), "rounds": p.rounds,
                "round_ms_mean": rounded(p.round_ms_mean, 1), "wal_mb": rounded(p.wal_bytes / 1e6, 2),
                "service_cpu_s": rounded(p.service_cpu_s, 2), "database_cpu_s": p.database_cpu_s,
                "client_cpu_ms_per_request": rounded(cpu_ms, 3),
                "client_cores": rounded(cores, 2), **p.ledger.as_json()}

    ratios = {f"{level:g}": _p99_ratios(phases, level) for level in args.level_list}
    capacity = phases[0]
    return {
        "capacity_rps": rounded(capacity_rps, 1),
        "phases": [phase_json(p) for p in phases],
        "p99_ratio_rounds_on_off": ratios,
        "errors": sum(_all_requests(p.result).errors for p in phases),
        "server_errors_5xx": sum(p.result.server_errors() for p in phases)
        + capacity.extra.get("server_errors_5xx", 0),
        "lost_orders": sum(p.ledger.missing for p in phases),
        "reservation_mismatches": sum(p.ledger.reservation_mismatches for p in phases),
        "bad_token_slowdown": rounded(capacity.extra.get("bad_token_slowdown", float("nan")), 3),
        "bad_token_rps": rounded(capacity.extra.get("bad_token_rps", float("nan")), 1),
        "workers": args.workers,
        "stores": args.stores,
        "couriers": args.couriers,
        "seconds": args.seconds,
        "repeat": args.repeat,
        "load_generator": f"{args.client_processes} aiohttp client processes",
    }


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _p99_ratios(phases: list[_Phase], level: float) -> dict[str, float | None]:
    """Per endpoint and for all requests: median p99 with rounds on / median p99 with them off."""
    import statistics

    from dispatch.bench.report import rounded

    def median_p99(rounds_on: bool, name: str) -> float:
        runs = [p.result for p in phases if p.level == level and p.rounds_on is rounds_on]
        return statistics.median(
            (_all_requests(r) if name == "all" else r.figures(name)).p99_ms for r in runs
        )

    return {name: rounded(_ratio(median_p99(True, name), median_p99(False, name)), 3)
            for name in (*ENDPOINTS, "all")}
