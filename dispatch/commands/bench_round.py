"""`flashdispatch bench round`: the pure engine on one dispatch round, at growing scale.

Two sources of rounds:

* an MDRP instance's busiest round (the simulated minute with the most open orders, captured
  once by running the day through the simulator and cached), tiled ``k`` times: every copy
  after the first gets its own restaurants, orders and couriers, each place moved by up to
  ``--jitter-m`` metres and each order's times by up to two minutes, so the round holds ``k``
  times the orders and couriers on the same map (a denser city, not a bigger one);
* synthetic rounds on the road network: stores, drop-offs and couriers on random nodes,
  travel times from one multi-source Dijkstra over every node the round uses.

Each round is planned ``--repeats`` times (new jitter each time) with the service's policy
(its weights, its dispatch interval, its search budget and time guard) and timed, wall
clock and CPU (the CPU figure is steadier on a shared machine). The growth exponent is the slope of the
least-squares line through (log open orders, log p50 round time) over the instance rounds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Hashable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder, TravelTime
    from dispatch.sim.mdrp_format import MdrpInstance
    from geo.network import RoadNetwork

DEFAULT_KS = "1,2,4,8,16"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the command's arguments."""
    parser.add_argument("--instance", type=Path, help="MDRP instance directory (its busiest round)")
    parser.add_argument("--ks", default=DEFAULT_KS, help="tiling factors, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per k")
    parser.add_argument("--jitter-m", type=float, default=150.0, help="largest move of a copied place")
    parser.add_argument(
        "--synthetic",
        type=int,
        default=100,
        metavar="ORDERS",
        help="also time synthetic road-network rounds of ORDERS × k open orders (0: none)",
    )
    parser.add_argument("--road-network", type=Path, default=None, help="for the synthetic rounds")
    parser.add_argument("--policy", choices=("service", "mdrp"), default="service")
    parser.add_argument(
        "--round-cache",
        type=Path,
        default=None,
        help="where the captured busiest round is kept (default: under FLASHDISPATCH_HOME/cache)",
    )
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, settings: Any) -> int:
    """Time the rounds; print a table, then one JSON object."""
    ks = [int(k) for k in args.ks.split(",") if k.strip()]
    if not ks or min(ks) < 1 or args.repeats < 1:
        print("--ks needs positive integers and --repeats at least 1", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    if args.instance is not None:
        cache = args.round_cache or (Path(settings.home) / "cache" / f"bench-round-{args.instance.name}.json")
        rows += _instance_rounds(args, ks, cache)
    if args.synthetic > 0:
        rows += _synthetic_rounds(args, ks, settings)
    if not rows:
        print("nothing to time: give --instance and/or --synthetic > 0", file=sys.stderr)
        return 2
    _print_table(rows)
    inst = [r for r in rows if r["source"] == "instance"]
    synth = [r for r in rows if r["source"] == "synthetic"]
    summary: dict[str, Any] = {
        "rounds": rows,
        "growth_exponent": growth_exponent(inst or synth),
    }
    if inst and synth:
        summary["synthetic_growth_exponent"] = growth_exponent(synth)
    print(json.dumps(summary))
    return 0


def growth_exponent(rows: list[dict[str, Any]]) -> float | None:
    """Slope of log(p50 round time) against log(open orders), least squares (None if < 2 sizes)."""
    points = [(r["open_orders"], r["round_ms_p50"]) for r in rows if r["open_orders"] > 0]
    if len({n for n, _ in points}) < 2:
        return None
    x = np.log([n for n, _ in points])
    y = np.log([max(ms, 1e-3) for _, ms in points])
    slope = np.polyfit(x, y, 1)[0]
    return round(float(slope), 3)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the instance's busiest round ------------------------------------------------------------


def _instance_rounds(args: argparse.Namespace, ks: list[int], cache: Path) -> list[dict[str, Any]]:
    from dispatch.sim.mdrp import MINUTE_S, mdrp_policy
    from dispatch.sim.mdrp_format import load_instance

    instance = load_instance(args.instance)
    captured = _busiest_round(instance, cache, policy_name=args.policy)
    policy = _service_interval(mdrp_policy(instance, args.policy))
    _say(
        f"busiest round of {instance.name}: minute {captured['minute']}, "
        f"{len(captured['orders'])} open orders, {len(captured['couriers'])} couriers"
    )
    mpm = instance.meters_per_minute
    rows = []
    for k in ks:
        times = []
        for rep in range(args.repeats):
            rng = np.random.default_rng([args.seed, k, rep])
            orders, couriers, hotspots = _tile(captured, instance, k, rng, jitter_m=args.jitter_m)
            times.append(
                _time_round(
                    orders,
                    couriers,
                    hotspots,
                    travel=_euclid_travel(mpm),
                    now=captured["minute"] * MINUTE_S,
                    policy=policy,
                )
            )
        rows.append(_row("instance", k, len(orders), len(couriers), times))
        _say(f"  k={k:>2}: {len(orders)} orders, {len(couriers)} couriers, p50 {rows[-1]['round_ms_p50']} ms")
    return rows


def _service_interval(policy: EnginePolicy) -> EnginePolicy:
    """The MDRP policy with the service's dispatch interval (the round-time budget is half of it)."""
    from dispatch.settings import Policy

    return replace(policy, round_interval_s=Policy().dispatch_interval_s)


def _busiest_round(instance: MdrpInstance, cache: Path, *, policy_name: str) -> dict[str, Any]:
    """The round with the most open orders over the simulated day (computed once, then cached)."""
    from dispatch.sim.mdrp import RoundInput, mdrp_policy, simulate

    if cache.is_file():
        return json.loads(cache.read_text())
    _say(f"capturing the busiest round of {instance.name} (simulating the day once) …")
    best: list[RoundInput] = []

    def keep(r: RoundInput) -> None:
        if not best or (len(r.orders), len(r.couriers)) > (len(best[0].orders), len(best[0].couriers)):
            best[:] = [r]

    simulate(instance, policy=mdrp_policy(instance, policy_name), on_round=keep)
    r = best[0]
    captured = {
        "instance": instance.name,
        "minute": r.minute,
        "orders": [[o.order_id, o.store_id, o.placed_at, o.ready_at, o.promised_by] for o in r.orders],
        "couriers": [
            [c.courier_id, str(c.location), c.free_at, c.shift_ends_at, c.capacity] for c in r.couriers
        ],
        "hotspots": {str(p): w for p, w in r.hotspots.items()},
    }
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(captured))
    return captured


def _tile(
    captured: dict[str, Any],
    instance: MdrpInstance,
    k: int,
    rng: np.random.Generator,
    *,
    jitter_m: float,
) -> tuple[list[OpenOrder], list[CourierState], dict[Hashable, float]]:
    from dispatch.engine.model import CourierState, OpenOrder

    moved: dict[tuple[str, int], tuple[float, float]] = {}

    def place(pid: str, copy: int) -> tuple[float, float]:
        key = (pid, copy)
        if key not in moved:
            x, y = instance.location(pid)
            if copy:
                dx, dy = rng.uniform(-jitter_m, jitter_m, size=2)
                x, y = x + float(dx), y + float(dy)
            moved[key] = (x, y)
        return moved[key]

    orders: list[OpenOrder] = []
    couriers: list[CourierState] = []
    hotspots: dict[Hashable, float] = {}
    for copy in range(k):
        tag = "" if copy == 0 else f"~{copy}"
        for oid, store, placed, ready, promised in captured["orders"]:
            shift = 60.0 * int(rng.integers(-2, 3)) if copy else 0.0
            orders.append(
                OpenOrder(
                    order_id=oid + tag,
                    store_id=store + tag,
                    store_location=place(store, copy),
                    dropoff=place(oid, copy),
                    placed_at=placed + shift,
                    ready_at=ready + shift,
                    promised_by=promised + shift,
                )
            )
        for cid, location, free_at, ends_at, capacity in captured["couriers"]:
            couriers.append(
                CourierState(
                    courier_id=cid + tag,
                    location=place(location, copy),
                    free_at=free_at,
                    shift_ends_at=ends_at,
                    capacity=capacity,
                )
            )
        for pid, w in captured["hotspots"].items():
            hotspots[place(pid, copy)] = w
    return orders, couriers, hotspots


def _euclid_travel(meters_per_minute: float) -> EuclideanTravel:
    return EuclideanTravel(meters_per_minute)


class EuclideanTravel:
    """The MDRP travel time (whole minutes, in seconds) between (x, y) points, memoised.

    ``matrix`` answers many pairs at once with the same values as the pair-by-pair call.
    """

    def __init__(self, meters_per_minute: float) -> None:
        self.mpm = meters_per_minute
        self._memo: dict[tuple[Hashable, Hashable], float] = {}

    def __call__(self, a: Hashable, b: Hashable) -> float:
        key = (a, b)
        value = self._memo.get(key)
        if value is None:
            pa: tuple[float, float] = a  # type: ignore[assignment]
            pb: tuple[float, float] = b  # type: ignore[assignment]
            metres = math.hypot(pb[0] - pa[0], pb[1] - pa[1])
            value = self._memo[key] = 60.0 * math.ceil(metres / self.mpm)
        return value

    def matrix(self, origins: Sequence[Hashable], destinations: Sequence[Hashable]) -> np.ndarray:
        a = np.asarray(origins, dtype=float).reshape(-1, 2)
        b = np.asarray(destinations, dtype=float).reshape(-1, 2)
        q = np.hypot(b[None, :, 0] - a[:, None, 0], b[None, :, 1] - a[:, None, 1]) / self.mpm
        out = 60.0 * np.ceil(q)
        for i, j in zip(*np.nonzero(np.abs(q - np.round(q)) < 1e-9), strict=True):
            out[i, j] = self(origins[i], destinations[j])  # on a boundary: the exact rule
        return out


# --- synthetic rounds on the road network ----------------------------------------------------


def _synthetic_rounds(args: argparse.Namespace, ks: list[int], settings: Any) -> list[dict[str, Any]]:
    """Time ``--repeats`` random rounds of ``--synthetic`` × k orders on the road network per k."""
    from geo.loading import load_road_network

    path = args.road_network or settings.road_network
    network = load_road_network(path, cache_dir=Path(settings.home) / "cache", progress=_say)
    policy = _synthetic_policy(args.policy)
    rows = []
    for k in ks:
        times = []
        n_orders = args.synthetic * k
        n_couriers = max(1, round(0.75 * n_orders))
        for rep in range(args.repeats):
            rng = np.random.default_rng([args.seed, 7, k, rep])
            orders, couriers, hotspots, travel = _synthetic_round(network, n_orders, n_couriers, rng)
            times.append(_time_round(orders, couriers, hotspots, travel=travel, now=0.0, policy=policy))
        rows.append(_row("synthetic", k, n_orders, n_couriers, times))
        _say(
            f"  synthetic k={k:>2}: {n_orders} orders, {n_couriers} couriers, "
            f"p50 {rows[-1]['round_ms_p50']} ms"
        )
    return rows


def _synthetic_policy(name: str) -> EnginePolicy:
    """The engine's default weights with the service's interval (``mdrp``: its two changes)."""
    from dispatch.engine.model import EnginePolicy
    from dispatch.settings import Policy

    policy = EnginePolicy(round_interval_s=Policy().dispatch_interval_s)
    if name == "mdrp":
        policy = replace(policy, lateness_weight=0.0, wait_weight=0.3)
    return policy


def _synthetic_round(
    network: RoadNetwork, n_orders: int, n_couriers: int, rng: np.random.Generator
) -> tuple[list[OpenOrder], list[CourierState], dict[Hashable, float], TableTravel]:
    """One random round: stores on random nodes (one per five orders), each order's drop-off
    a node within 15 minutes of its store, couriers anywhere; travel from one Dijkstra."""
    from scipy.sparse.csgraph import dijkstra

    n_nodes = network.node_count
    n_stores = max(1, n_orders // 5)
    stores = rng.choice(n_nodes, size=min(n_stores, n_nodes), replace=False)
    reach = dijkstra(network.csr, indices=stores, limit=900.0)
    order_store = rng.integers(0, stores.size, size=n_orders)
    drops = np.empty(n_orders, dtype=np.int64)
    for i, s in enumerate(order_store):
        near = np.flatnonzero(np.isfinite(reach[s]) & (reach[s] > 0))
        drops[i] = int(rng.choice(near)) if near.size else int(stores[s])
    courier_nodes = rng.choice(n_nodes, size=n_couriers, replace=True)
    used = np.unique(np.concatenate([stores, drops, courier_nodes]))
    table = dijkstra(network.csr, indices=used)
    row_of = {int(n): i for i, n in enumerate(used)}
    orders = _synthetic_orders(stores, order_store, drops, rng)
    couriers = _synthetic_couriers(courier_nodes, rng)
    hotspots: dict[Hashable, float] = {int(s): 1.0 for s in stores}
    return orders, couriers, hotspots, TableTravel(table, row_of)


def _synthetic_orders(
    stores: np.ndarray, order_store: np.ndarray, drops: np.ndarray, rng: np.random.Generator
) -> list[OpenOrder]:
    """Orders placed in the last 20 minutes, ready 5-15 minutes later, promised in 30."""
    from dispatch.engine.model import OpenOrder

    n_orders = len(order_store)
    placed = -rng.uniform(0, 1200, size=n_orders)
    ready = placed + rng.uniform(300, 900, size=n_orders)
    return [
        OpenOrder(
            order_id=f"o{i}",
            store_id=f"s{order_store[i]}",
            store_location=int(stores[order_store[i]]),
            dropoff=int(drops[i]),
            placed_at=float(placed[i]),
            ready_at=float(ready[i]),
            promised_by=float(placed[i]) + 1800.0,
        )
        for i in range(n_orders)
    ]


def _synthetic_couriers(courier_nodes: np.ndarray, rng: np.random.Generator) -> list[CourierState]:
    """Couriers on four-hour shifts; 40 % busy for up to 20 more minutes."""
    from dispatch.engine.model import CourierState

    n_couriers = len(courier_nodes)
    busy = rng.uniform(size=n_couriers) < 0.4
    return [
        CourierState(
            courier_id=f"c{j}",
            location=int(courier_nodes[j]),
            free_at=float(rng.uniform(0, 1200)) if busy[j] else 0.0,
            shift_ends_at=4 * 3600.0,
        )
        for j in range(n_couriers)
    ]


class TableTravel:
    """Road travel seconds from a dense table (rows: the round's nodes, columns: every node)."""

    def __init__(self, table: np.ndarray, row_of: dict[int, int]) -> None:
        self.table = table
        self.row_of = row_of

    def __call__(self, a: Hashable, b: Hashable) -> float:
        return float(self.table[self.row_of[a], b])  # type: ignore[index]

    def matrix(self, origins: Sequence[Hashable], destinations: Sequence[Hashable]) -> np.ndarray:
        index = [self.row_of[a] for a in origins]  # type: ignore[index]
        rows = np.fromiter(index, dtype=np.intp, count=len(origins))
        return self.table[np.ix_(rows, np.asarray(destinations, dtype=np.intp))]


# --- timing and report -----------------------------------------------------------------------


def _time_round(
    orders: list[OpenOrder],
    couriers: list[CourierState],
    hotspots: dict[Hashable, float],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
) -> tuple[float, float]:
    """Wall and CPU milliseconds of one round, planned as the service plans it (with its timer)."""
    from dispatch.engine.plan import plan_round

    t0, c0 = time.perf_counter(), time.process_time()
    plan_round(
        orders=orders,
        couriers=couriers,
        travel=travel,
        now=now,
        policy=policy,
        hotspots=hotspots,
        timer=time.perf_counter,
    )
    return (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0


def _row(
    source: str, k: int, orders: int, couriers: int, times_ms: list[tuple[float, float]]
) -> dict[str, Any]:
    t = np.asarray([wall for wall, _ in times_ms])
    cpu = np.asarray([c for _, c in times_ms])
    return {
        "source": source,
        "k": k,
        "open_orders": orders,
        "couriers": couriers,
        "round_ms_p50": round(float(np.percentile(t, 50)), 1),
        "round_ms_p99": round(float(np.percentile(t, 99)), 1),
        "round_ms_max": round(float(t.max()), 1),
        "round_cpu_ms_p50": round(float(np.percentile(cpu, 50)), 1),
    }


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        f"{'source':<10} {'k':>3} {'orders':>7} {'couriers':>8} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'max ms':>9} {'cpu p50':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['source']:<10} {r['k']:>3} {r['open_orders']:>7} {r['couriers']:>8} "
            f"{r['round_ms_p50']:>9.1f} {r['round_ms_p99']:>9.1f} {r['round_ms_max']:>9.1f} "
            f"{r['round_cpu_ms_p50']:>9.1f}"
        )
