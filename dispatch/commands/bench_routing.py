"""`flashdispatch bench routing`: table store choice and ETA matrices against networkx.

One run on one graph: build the travel-time tables for N random stores, time per-order store
choice over the tables against the naive method (one networkx Dijkstra per order, from the
drop-off on the reversed graph, cut off at the largest radius), check that both pick the same
store, and time one dispatch round's courier × store ETA matrix. Prints a table, then one JSON
line. A benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import networkx as nx
    import numpy as np

    from dispatch.settings import Settings
    from geo.network import RoadNetwork
    from geo.tables import TravelTimeTables
    from stores.choice import StoreChoice, StoreConditions
    from stores.stock_view import StockView

Order = tuple[int, dict[str, int]]  # (drop-off node, SKU → units)
Chooser = Callable[[int, Mapping[str, int]], "StoreChoice"]


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --road-network, --stores, --couriers, sample sizes, seed."""
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--road-network", type=Path, metavar="FILE",
                        help="overrides FLASHDISPATCH_ROAD_NETWORK / the bundled network")
    parser.add_argument("--stores", type=int, default=200)
    parser.add_argument("--couriers", type=int, default=1000)
    parser.add_argument("--orders", type=int, default=5000, help="orders timed on the tables")
    parser.add_argument("--baseline-orders", type=int, default=None,
                        help="orders timed with networkx and checked for agreement "
                             "(default 300 on small graphs, 40 on big ones)")
    parser.add_argument("--cutoff-min", type=float, default=30.0, help="table cutoff (minutes)")
    parser.add_argument("--radius-min", type=float, default=None,
                        help="store radius (default: the policy's, 20 minutes)")
    parser.add_argument("--seed", type=int, default=1)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the benchmark and print the results."""
    from geo.errors import GeoError
    from geo.loading import load_road_network
    from geo.tables import build_tables

    path = args.road_network or settings.road_network
    if args.stores < 1 or args.couriers < 1:
        _say("flashdispatch bench routing: --stores and --couriers must be positive")
        return 2
    try:
        t0 = time.perf_counter()
        network = load_road_network(path, cache_dir=settings.home / "cache", progress=_say)
        load_s = time.perf_counter() - t0
    except GeoError as exc:
        _say(f"flashdispatch bench routing: {exc} ({exc.code})")
        return 1
    n = network.node_count
    if args.stores > n:
        _say(f"flashdispatch bench routing: {args.stores} stores on {n} nodes")
        return 2
    world = _World.plan(n, args, radius_min=args.radius_min or settings.policy.default_radius_minutes)
    _say(f"tables: {args.stores} stores on {n:,} nodes, cutoff {args.cutoff_min:g} min")
    t0 = time.perf_counter()
    tables = build_tables(network, world.store_nodes, cutoff_s=args.cutoff_min * 60.0, progress=_say)
    table_build_s = time.perf_counter() - t0
    choose = _table_choice(tables, world)
    # as the service does after start-up: the graph and tables are long-lived, so move them out of
    # the collector's generations (a full collection would otherwise walk millions of objects)
    gc.collect()
    gc.freeze()
    _say(f"store choice over tables: {args.orders} orders")
    orders = [world.random_order() for _ in range(args.orders)]
    choice_us = _time_store_choice(choose, orders)
    _say("baseline: reversed networkx graph (parallel edges collapsed), built once, not timed")
    baseline = _compare_with_networkx(
        _NetworkxChoice.prepare(network.graph, world), choose, orders,
        sample=args.baseline_orders or (300 if n <= 20_000 else 40),
    )
    _say(f"ETA matrix: {args.couriers} couriers × {args.stores} stores")
    eta_ms = _time_eta_matrix(tables, world, couriers=args.couriers)
    figures = _Figures(load_s, table_build_s, choice_us, baseline, eta_ms)
    _report(args, path=path, world=world, network=network, tables=tables, figures=figures)
    return 0


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class _World:
    """The random stores and their stock, and the seeded generator that also draws the orders."""

    rng: np.random.Generator
    node_count: int
    store_nodes: np.ndarray
    stores: StoreConditions
    stock: StockView
    skus: Sequence[str]
    radius_min: float

    @classmethod
    def plan(cls, node_count: int, args: argparse.Namespace, *, radius_min: float) -> _World:
        """Stores on random nodes, one radius, random readiness, 5 % closed, 500 SKUs in stock."""
        import numpy as np

        from stores.choice import StoreConditions
        from stores.stock_view import StockView

        rng = np.random.default_rng(args.seed)
        store_nodes = rng.choice(node_count, size=args.stores, replace=False)
        store_ids = [f"store-{i:04d}" for i in range(args.stores)]
        radius_s = np.full(args.stores, radius_min * 60.0)
        ready_in_s = rng.uniform(120.0, 600.0, args.stores)
        is_open = rng.random(args.stores) > 0.05
        skus = [f"sku-{j:04d}" for j in range(500)]
        stock = StockView({
            sid: {sku: int(q) for sku, q in zip(skus, rng.integers(0, 6, len(skus)), strict=True)}
            for sid in store_ids
        })
        stores = StoreConditions(store_ids, radius_s, ready_in_s, is_open)
        return cls(rng, node_count, store_nodes, stores, stock, skus, radius_min)

    def random_order(self) -> Order:
        """One to three distinct SKUs, one or two units each, to a random node."""
        count = int(self.rng.integers(1, 4))
        picked = self.rng.choice(len(self.skus), size=count, replace=False)
        node = int(self.rng.integers(0, self.node_count))
        return node, {self.skus[j]: int(self.rng.integers(1, 3)) for j in picked}


def _table_choice(tables: TravelTimeTables, world: _World) -> Chooser:
    """Store choice as the service does it: over the tables and the stock view."""
    from stores.choice import rank_stores

    def choose(node: int, lines: Mapping[str, int]) -> StoreChoice:
        return rank_stores(node=node, lines=lines, tables=tables, stores=world.stores, stock=world.stock)

    return choose


@dataclass(frozen=True, slots=True)
class _Comparison:
    """The networkx baseline's timings (µs) and how often both methods picked the same store."""

    times_us: np.ndarray
    agree: int

    @property
    def orders(self) -> int:
        """How many orders were compared."""
        return len(self.times_us)


@dataclass(frozen=True, slots=True)
class _Figures:
    """What one run measured, before it is reported."""

    load_s: float
    table_build_s: float
    choice_us: np.ndarray
    baseline: _Comparison
    eta_ms: list[float]


def _time_store_choice(choose: Chooser, orders: list[Order]) -> np.ndarray:
    """Microseconds per order, after a warm-up on the first 300."""
    import numpy as np

    for node, lines in orders[:300]:  # warm up
        choose(node, lines)
    samples = np.empty(len(orders))
    clock = time.perf_counter_ns
    for i, (node, lines) in enumerate(orders):
        start = clock()
        choose(node, lines)
        samples[i] = clock() - start
    samples /= 1000.0
    return samples


def _compare_with_networkx(naive: _NetworkxChoice, choose: Chooser, orders: list[Order], *,
                           sample: int) -> _Comparison:
    """Time the naive choice on the first ``sample`` orders; count agreements with the tables."""
    import numpy as np

    count = min(sample, len(orders))
    times = np.empty(count)
    agree = 0
    clock = time.perf_counter_ns
    for i, (node, lines) in enumerate(orders[:count]):
        if i % 10 == 0:
            _say(f"baseline: order {i + 1}/{count}")
        start = clock()
        expected = naive.choose(node, lines)
        times[i] = (clock() - start) / 1000.0
        got = choose(node, lines).best
        agree += (got.store_id if got else None) == expected
    return _Comparison(times, agree)


def _time_eta_matrix(tables: TravelTimeTables, world: _World, *, couriers: int) -> list[float]:
    """Milliseconds per courier × store ETA matrix: 30 runs after one warm-up."""
    courier_nodes = world.rng.integers(0, world.node_count, couriers)
    tables.eta_matrix(courier_nodes)
    eta = []
    clock = time.perf_counter_ns
    for _ in range(30):
        start = clock()
        tables.eta_matrix(courier_nodes)
        eta.append((clock() - start) / 1e6)
    return eta


def _report(args: argparse.Namespace, *, path: Path, world: _World, network: RoadNetwork,
            tables: TravelTimeTables, figures: _Figures) -> None:
    """The human table, then the JSON line."""
    import numpy as np

    n = network.node_count
    p50, p99 = (float(x) for x in np.percentile(figures.choice_us, [50, 99]))
    baseline = figures.baseline
    base_p50 = float(np.percentile(baseline.times_us, 50)) if baseline.orders else float("nan")
    agreement = baseline.agree / baseline.orders if baseline.orders else float("nan")
    result = {
        "road_network": str(path),
        "nodes": n,
        "edges": int(network.csr.nnz),
        "stores": args.stores,
        "couriers": args.couriers,
        "cutoff_s": args.cutoff_min * 60.0,
        "radius_s": world.radius_min * 60.0,
        "load_s": round(figures.load_s, 3),
        "table_build_s": round(figures.table_build_s, 3),
        "table_bytes": tables.nbytes,
        "table_pairs": tables.pair_count,
        "store_choice_us_p50": round(p50, 2),
        "store_choice_us_p99": round(p99, 2),
        "baseline_store_choice_us_p50": round(base_p50, 1),
        "speedup_store_choice": round(base_p50 / p50, 1),
        "eta_matrix_ms": round(float(np.median(figures.eta_ms)), 3),
        "agreement": round(agreement, 4),
        "agreement_sample": baseline.orders,
    }
    rows = [
        ("network", f"{path} ({n:,} nodes, {network.csr.nnz:,} edges)"),
        ("stores / couriers", f"{args.stores} / {args.couriers}"),
        ("table build", f"{figures.table_build_s:.3f} s ({tables.nbytes / 1e6:.1f} MB, "
                        f"{tables.pair_count:,} store→node pairs within {args.cutoff_min:g} min)"),
        ("store choice, tables", f"p50 {p50:.1f} µs, p99 {p99:.1f} µs ({len(figures.choice_us)} orders)"),
        ("store choice, networkx", f"p50 {base_p50:,.0f} µs ({baseline.orders} orders)"),
        ("speed-up", f"{result['speedup_store_choice']}×"),
        ("ETA matrix", f"{result['eta_matrix_ms']} ms ({args.couriers} × {args.stores})"),
        ("agreement", f"{agreement:.4f} ({baseline.agree}/{baseline.orders} same store as networkx)"),
    ]
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))


@dataclass(frozen=True, slots=True)
class _NetworkxChoice:
    """The naive store choice: one networkx search per order, then the same ranking."""

    reversed_graph: nx.DiGraph
    store_at: Mapping[int, list[int]]  # node → store indices there
    radius_max: float
    stores: StoreConditions
    stock: StockView

    @classmethod
    def prepare(cls, graph: nx.MultiDiGraph, world: _World) -> _NetworkxChoice:
        """Reverse the graph and index the stores by node (built once, not timed)."""
        store_at: dict[int, list[int]] = {}
        for s, node in enumerate(world.store_nodes.tolist()):
            store_at.setdefault(node, []).append(s)
        return cls(_reversed_digraph(graph), store_at, float(world.stores.radius_s.max()),
                   world.stores, world.stock)

    def choose(self, node: int, lines: Mapping[str, int]) -> str | None:
        """The id of the best store for the order, or None."""
        import networkx as nx

        times = nx.single_source_dijkstra_path_length(self.reversed_graph, node, cutoff=self.radius_max,
                                                      weight="travel_time")
        stores = self.stores
        best: tuple[float, int, str] | None = None
        for store_node, travel in times.items():
            for s in self.store_at.get(store_node, ()):
                if travel > stores.radius_s[s] or not stores.is_open[s]:
                    continue
                sid = stores.store_ids[s]
                depth = min(self.stock.available(sid, sku) - q for sku, q in lines.items())
                if depth < 0:
                    continue
                key = (float(stores.ready_in_s[s]) + travel, -depth, sid)
                if best is None or key < best:
                    best = key
        return best[2] if best else None


def _reversed_digraph(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """A plain DiGraph of the reversed roads, parallel edges collapsed to the fastest."""
    import networkx as nx

    reversed_graph = nx.DiGraph()
    reversed_graph.add_nodes_from(graph.nodes)
    for u, v, t in graph.edges(data="travel_time"):
        if u == v:
            continue
        old = reversed_graph.get_edge_data(v, u)
        if old is None or t < old["travel_time"]:
            reversed_graph.add_edge(v, u, travel_time=t)
    return reversed_graph
