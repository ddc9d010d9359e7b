"""Store choice reads the nearest stores of a row first: it must give the whole row's answer."""

from __future__ import annotations

import math

import numpy as np
import pytest

from geo.tables import build_tables
from stores.choice import StoreConditions, rank_stores
from stores.stock_view import StockView

N_STORES = 150  # more than the prefix store choice reads first, so both paths run
CUTOFF_S = 1800.0


@pytest.fixture(scope="module")
def tables(district_network):
    rng = np.random.default_rng(3)
    nodes = rng.choice(district_network.node_count, N_STORES - 30, replace=False)
    # 30 stores share a node with another one: equal travel times, so equal predictions happen
    nodes = np.concatenate([nodes, nodes[:30]])
    return build_tables(district_network, nodes, cutoff_s=CUTOFF_S)


def _whole_row(node, lines, tables, stores, stock, limit):
    """The ranking read off the definition: every store in reach, no prefix, no early stop."""
    reach, travel = tables.stores_in_reach(node)
    ranked, nearest = [], None
    for s, t in zip(reach.tolist(), travel.tolist(), strict=True):
        if not (t <= stores.radius_s[s] and stores.is_open[s]):
            continue
        if nearest is None:
            nearest = s
        sid = stores.store_ids[s]
        depth = min(stock.available(sid, sku) - q for sku, q in lines.items())
        if depth >= 0:
            key = float(stores.ready_in_s[s] + np.float32(t))
            ranked.append((key, -depth, sid, s, t, float(stores.ready_in_s[s])))
    ranked.sort()
    return [(s, sid, t, ready, key, -nd) for key, nd, sid, s, t, ready in ranked[:limit]], nearest


@pytest.mark.parametrize("seed", range(12))
def test_rank_stores_equals_whole_row_ranking(district_network, tables, seed):
    rng = np.random.default_rng(seed)
    ids = [f"s{i:03d}" for i in rng.permutation(N_STORES)]  # ids not in index order
    skus = [f"k{j}" for j in range(6)]
    scarce = rng.random() < 0.5  # many stores short of a line: the prefix often runs out
    stock = StockView({
        sid: {sku: int(rng.integers(0, 2 if scarce else 4)) for sku in skus if rng.random() < 0.7}
        for sid in ids
    })
    spread = 3000 if seed % 4 == 0 else 900  # wider than every row: the whole row at once
    ready = np.round(rng.uniform(0, spread, N_STORES), -1 if seed % 2 else 2)  # coarse: equal keys
    radius = rng.uniform(300, CUTOFF_S, N_STORES) if seed % 3 else np.full(N_STORES, CUTOFF_S)
    radius[rng.random(N_STORES) < 0.05] = math.nan  # a NaN radius serves nobody
    is_open = rng.random(N_STORES) > rng.choice([0.0, 0.3, 0.9])
    stores = StoreConditions(ids, radius, ready, is_open)
    compared = 0
    for _ in range(150):
        node = int(rng.integers(0, district_network.node_count))
        picked = rng.choice(len(skus), size=int(rng.integers(1, 4)), replace=False)
        lines = {skus[j]: int(rng.integers(1, 3)) for j in picked}
        limit = int(rng.integers(1, 9))
        choice = rank_stores(node=node, lines=lines, tables=tables, stores=stores, stock=stock, limit=limit)
        expected, nearest = _whole_row(node, lines, tables, stores, stock, limit)
        assert choice.nearest_in_range == nearest
        assert [tuple(c) for c in choice.candidates] == expected
        assert all(type(c.depth) is int and type(c.travel_s) is float for c in choice.candidates)
        compared += len(tables.stores_in_reach(node)[0]) > 48 and bool(expected)
    assert compared > 5


def test_rank_stores_reads_whole_row_when_readiness_is_nan(district_network, tables):
    ready = np.full(N_STORES, 100.0)
    ready[7] = math.nan
    stock = StockView({f"s{i:03d}": {"a": 1} for i in range(N_STORES)})
    stores = StoreConditions([f"s{i:03d}" for i in range(N_STORES)], np.full(N_STORES, CUTOFF_S),
                             ready, np.ones(N_STORES, dtype=bool))
    node = int(tables.store_nodes[0])
    choice = rank_stores(node=node, lines={"a": 1}, tables=tables, stores=stores, stock=stock)
    assert choice.candidates[0].store_index == 0


def test_rank_stores_takes_integer_readiness(district_network, tables):
    ids = [f"s{i:03d}" for i in range(N_STORES)]
    stock = StockView({sid: {"a": 1} for sid in ids})
    ready = np.arange(N_STORES, dtype=np.int64) * 7
    radius, is_open = np.full(N_STORES, CUTOFF_S), np.ones(N_STORES, dtype=bool)
    node = int(tables.store_nodes[3])
    choice = rank_stores(node=node, lines={"a": 1}, tables=tables, stock=stock,
                         stores=StoreConditions(ids, radius, ready, is_open))
    expected, nearest = _whole_row(node, {"a": 1}, tables, StoreConditions(ids, radius, ready, is_open), stock, 5)
    assert [tuple(c) for c in choice.candidates] == expected
    assert choice.nearest_in_range == nearest
