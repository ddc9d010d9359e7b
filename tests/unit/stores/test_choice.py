from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from geo.tables import build_tables
from stores.choice import Candidate, StoreConditions, rank_stores
from stores.stock_view import StockView

N_STORES = 40
CUTOFF_S = 1800.0


@pytest.fixture(scope="module")
def world(district_network):
    rng = np.random.default_rng(7)
    store_nodes = rng.choice(district_network.node_count, N_STORES, replace=False)
    tables = build_tables(district_network, store_nodes, cutoff_s=CUTOFF_S)
    store_ids = [f"store-{i:02d}" for i in range(N_STORES)]
    stock = StockView(
        {sid: {f"sku{j}": int(rng.integers(0, 4)) for j in range(20)} for sid in store_ids}
    )
    return {
        "network": district_network,
        "rng": rng,
        "store_nodes": store_nodes,
        "tables": tables,
        "store_ids": store_ids,
        "stock": stock,
        "radius_s": rng.uniform(600, 1500, N_STORES),
        "ready_in_s": rng.uniform(120, 900, N_STORES),
        "is_open": rng.random(N_STORES) > 0.1,
    }


def _choose(world, node, lines, *, limit=5, **overrides):
    values = {**world, **overrides}
    stores = StoreConditions(values["store_ids"], values["radius_s"], values["ready_in_s"], values["is_open"])
    return rank_stores(node=node, lines=lines, tables=values["tables"], stores=stores, stock=values["stock"],
                       limit=limit)


def _networkx_choice(world, node, lines):
    """The naive method: one networkx search from the drop-off on the reversed graph."""
    graph = world["network"].graph.reverse(copy=False)
    times = nx.single_source_dijkstra_path_length(graph, node, cutoff=CUTOFF_S,
                                                  weight="travel_time")
    ranked = []
    for s, store_node in enumerate(world["store_nodes"]):
        travel = times.get(int(store_node), math.inf)
        if travel > world["radius_s"][s] or not world["is_open"][s]:
            continue
        spare = [world["stock"].available(world["store_ids"][s], sku) - q for sku, q in lines.items()]
        if min(spare) < 0:
            continue
        ranked.append((world["ready_in_s"][s] + travel, -min(spare), world["store_ids"][s]))
    ranked.sort()
    return [r[2] for r in ranked]


def test_choose_store_agrees_with_networkx_search(world):
    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(60):
        node = int(rng.integers(0, world["network"].node_count))
        first, second = rng.integers(0, 20, size=2)
        lines = {f"sku{first}": 1, f"sku{second}": 1}
        choice = _choose(world, node, lines, limit=3)
        expected = _networkx_choice(world, node, lines)
        assert [c.store_id for c in choice.candidates] == expected[:3]
        compared += bool(expected)
    assert compared > 30


def test_choose_store_skips_store_missing_one_line(world):
    node = int(world["store_nodes"][0])
    base = _choose(world, node, {"sku1": 1}, limit=N_STORES)
    assert base.candidates
    best = base.candidates[0].store_id
    stock = StockView({sid: {"sku1": 5, "sku2": 5} for sid in world["store_ids"]})
    stock.set_available(best, "sku2", 0)
    choice = _choose(world, node, {"sku1": 1, "sku2": 1}, stock=stock, limit=N_STORES)
    assert best not in [c.store_id for c in choice.candidates]
    assert choice.candidates


def test_choose_store_ranks_by_predicted_delivery_then_depth_then_id(world):
    node = int(world["store_nodes"][3])
    stock = StockView({sid: {"a": 2} for sid in world["store_ids"]})
    choice = _choose(world, node, {"a": 1}, stock=stock, limit=N_STORES)
    keys = [(c.predicted_delivery_s, -c.depth, c.store_id) for c in choice.candidates]
    assert keys == sorted(keys)
    for c in choice.candidates:
        assert c.predicted_delivery_s == pytest.approx(c.ready_in_s + c.travel_s)
        assert c.travel_s <= world["radius_s"][c.store_index]
        assert world["is_open"][c.store_index]
        assert c.depth == 1


def test_choose_store_tie_breaks_on_deeper_stock(world):
    node = int(world["store_nodes"][5])
    ready = np.zeros(N_STORES)
    radius = np.full(N_STORES, CUTOFF_S)
    is_open = np.ones(N_STORES, dtype=bool)
    # two stores at the same node: equal predicted delivery, the deeper one wins
    tables = build_tables(world["network"], [node, node], cutoff_s=CUTOFF_S)
    stock = StockView({"shallow": {"a": 1}, "deep": {"a": 9}})
    stores = StoreConditions(["shallow", "deep"], radius[:2], ready[:2], is_open[:2])
    choice = rank_stores(node=node, lines={"a": 1}, tables=tables, stores=stores, stock=stock)
    assert [c.store_id for c in choice.candidates] == ["deep", "shallow"]
    assert choice.candidates[0] == Candidate(1, "deep", 0.0, 0.0, 0.0, 8)
    stock = StockView({"b": {"a": 1}, "a": {"a": 1}})
    stores = StoreConditions(["b", "a"], radius[:2], ready[:2], is_open[:2])
    choice = rank_stores(node=node, lines={"a": 1}, tables=tables, stores=stores, stock=stock)
    assert [c.store_id for c in choice.candidates] == ["a", "b"]


def test_choose_store_reports_nearest_store_when_out_of_stock(world):
    node = int(world["store_nodes"][2])
    choice = _choose(world, node, {"no-such-sku": 1})
    assert choice.candidates == ()
    assert choice.nearest_in_range is not None
    stores, _times = world["tables"].stores_in_reach(node)
    assert choice.nearest_in_range in stores.tolist()


def test_choose_store_out_of_area_when_no_open_store_in_range(world):
    node = int(world["store_nodes"][2])
    closed = np.zeros(N_STORES, dtype=bool)
    assert _choose(world, node, {"sku1": 1}, is_open=closed).nearest_in_range is None
    tiny = np.full(N_STORES, -1.0)
    assert _choose(world, node, {"sku1": 1}, radius_s=tiny).nearest_in_range is None


def test_choose_store_respects_limit(world):
    node = int(world["store_nodes"][4])
    stock = StockView({sid: {"a": 3} for sid in world["store_ids"]})
    assert len(_choose(world, node, {"a": 1}, stock=stock, limit=2).candidates) == 2


@pytest.mark.parametrize("lines", [{}, {"a": 0}, {"a": -1}])
def test_choose_store_rejects_bad_lines(world, lines):
    with pytest.raises(ValueError):
        _choose(world, 0, lines)
