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
from pathlib import Path


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


def run(args: argparse.Namespace, settings) -> int:
    """Run the benchmark and print the results."""
    import numpy as np

    from geo.errors import GeoError
    from geo.loading import load_road_network
    from geo.tables import build_tables
    from stores.choice import choose_store
    from stores.stock_view import StockView

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    path = args.road_network or settings.road_network
    if args.stores < 1 or args.couriers < 1:
        say("flashdispatch bench routing: --stores and --couriers must be positive")
        return 2
    try:
        t0 = time.perf_counter()
        network = load_road_network(path, cache_dir=settings.home / "cache", progress=say)
        load_s = time.perf_counter() - t0
    except GeoError as exc:
        say(f"flashdispatch bench routing: {exc} ({exc.code})")
        return 1
    n = network.node_count
    if args.stores > n:
        say(f"flashdispatch bench routing: {args.stores} stores on {n} nodes")
        return 2
    rng = np.random.default_rng(args.seed)
    radius_min = args.radius_min or settings.policy.default_radius_minutes
    cutoff_s = args.cutoff_min * 60.0
    store_nodes = rng.choice(n, size=args.stores, replace=False)
    store_ids = [f"store-{i:04d}" for i in range(args.stores)]
    radius_s = np.full(args.stores, radius_min * 60.0)
    ready_in_s = rng.uniform(120.0, 600.0, args.stores)
    is_open = rng.random(args.stores) > 0.05
    skus = [f"sku-{j:04d}" for j in range(500)]
    stock = StockView({
        sid: {sku: int(q) for sku, q in zip(skus, rng.integers(0, 6, len(skus)), strict=True)}
        for sid in store_ids
    })

    say(f"tables: {args.stores} stores on {n:,} nodes, cutoff {args.cutoff_min:g} min")
    t0 = time.perf_counter()
    tables = build_tables(network, store_nodes, cutoff_s=cutoff_s, progress=say)
    table_build_s = time.perf_counter() - t0

    def order() -> tuple[int, dict[str, int]]:
        count = int(rng.integers(1, 4))
        picked = rng.choice(len(skus), size=count, replace=False)
        return int(rng.integers(0, n)), {skus[j]: int(rng.integers(1, 3)) for j in picked}

    def choose(node: int, lines: dict[str, int]):
        return choose_store(node=node, lines=lines, tables=tables, store_ids=store_ids,
                            radius_s=radius_s, ready_in_s=ready_in_s, is_open=is_open,
                            stock=stock)

    # as the service does after start-up: the graph and tables are long-lived, so move them out of
    # the collector's generations (a full collection would otherwise walk millions of objects)
    gc.collect()
    gc.freeze()
    say(f"store choice over tables: {args.orders} orders")
    orders = [order() for _ in range(args.orders)]
    for node, lines in orders[:300]:  # warm up
        choose(node, lines)
    samples = np.empty(len(orders))
    clock = time.perf_counter_ns
    for i, (node, lines) in enumerate(orders):
        start = clock()
        choose(node, lines)
        samples[i] = clock() - start
    samples /= 1000.0

    say("baseline: reversed networkx graph (parallel edges collapsed), built once, not timed")
    reversed_graph = _reversed_digraph(network.graph)
    store_at: dict[int, list[int]] = {}
    for s, node in enumerate(store_nodes.tolist()):
        store_at.setdefault(node, []).append(s)
    baseline_orders = args.baseline_orders or (300 if n <= 20_000 else 40)
    baseline_orders = min(baseline_orders, len(orders))
    radius_max = float(radius_s.max())
    baseline = np.empty(baseline_orders)
    agree = 0
    for i, (node, lines) in enumerate(orders[:baseline_orders]):
        if i % 10 == 0:
            say(f"baseline: order {i + 1}/{baseline_orders}")
        start = clock()
        expected = _networkx_choice(reversed_graph, node, lines, radius_max, store_at,
                                    store_ids, radius_s, ready_in_s, is_open, stock)
        baseline[i] = (clock() - start) / 1000.0
        got = choose(node, lines).best
        agree += (got.store_id if got else None) == expected
    agreement = agree / baseline_orders if baseline_orders else float("nan")

    say(f"ETA matrix: {args.couriers} couriers × {args.stores} stores")
    courier_nodes = rng.integers(0, n, args.couriers)
    tables.eta_matrix(courier_nodes)
    eta = []
    for _ in range(30):
        start = clock()
        tables.eta_matrix(courier_nodes)
        eta.append((clock() - start) / 1e6)

    p50, p99 = (float(x) for x in np.percentile(samples, [50, 99]))
    base_p50 = float(np.percentile(baseline, 50)) if baseline_orders else float("nan")
    result = {
        "road_network": str(path),
        "nodes": n,
        "edges": int(network.csr.nnz),
        "stores": args.stores,
        "couriers": args.couriers,
        "cutoff_s": cutoff_s,
        "radius_s": radius_min * 60.0,
        "load_s": round(load_s, 3),
        "table_build_s": round(table_build_s, 3),
        "table_bytes": tables.nbytes,
        "table_pairs": tables.pair_count,
        "store_choice_us_p50": round(p50, 2),
        "store_choice_us_p99": round(p99, 2),
        "baseline_store_choice_us_p50": round(base_p50, 1),
        "speedup_store_choice": round(base_p50 / p50, 1),
        "eta_matrix_ms": round(float(np.median(eta)), 3),
        "agreement": round(agreement, 4),
        "agreement_sample": baseline_orders,
    }
    rows = [
        ("network", f"{path} ({n:,} nodes, {network.csr.nnz:,} edges)"),
        ("stores / couriers", f"{args.stores} / {args.couriers}"),
        ("table build", f"{table_build_s:.3f} s ({tables.nbytes / 1e6:.1f} MB, "
                        f"{tables.pair_count:,} store→node pairs within {args.cutoff_min:g} min)"),
        ("store choice, tables", f"p50 {p50:.1f} µs, p99 {p99:.1f} µs ({len(orders)} orders)"),
        ("store choice, networkx", f"p50 {base_p50:,.0f} µs ({baseline_orders} orders)"),
        ("speed-up", f"{result['speedup_store_choice']}×"),
        ("ETA matrix", f"{result['eta_matrix_ms']} ms ({args.couriers} × {args.stores})"),
        ("agreement", f"{agreement:.4f} ({agree}/{baseline_orders} same store as networkx)"),
    ]
    width = max(len(k) for k, _v in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))
    return 0


def _reversed_digraph(graph):
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


def _networkx_choice(reversed_graph, node, lines, radius_max, store_at, store_ids, radius_s,
                     ready_in_s, is_open, stock):
    """The naive store choice: one networkx search per order, then the same ranking."""
    import networkx as nx

    times = nx.single_source_dijkstra_path_length(reversed_graph, node, cutoff=radius_max,
                                                  weight="travel_time")
    best = None
    for store_node, travel in times.items():
        for s in store_at.get(store_node, ()):
            if travel > radius_s[s] or not is_open[s]:
                continue
            sid = store_ids[s]
            depth = min(stock.available(sid, sku) - q for sku, q in lines.items())
            if depth < 0:
                continue
            key = (float(ready_in_s[s]) + travel, -depth, sid)
            if best is None or key < best:
                best = key
    return best[2] if best else None
