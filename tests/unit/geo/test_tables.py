from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from geo.tables import build_tables

STORES = [0, 250, 500, 750, 1000, 1250, 1500, 1500]  # two stores may share a node


@pytest.fixture(scope="module")
def tables(district):
    return build_tables(district, STORES, cutoff_s=900.0)


def test_from_store_matches_networkx_within_cutoff(district, tables):
    for s, node in enumerate(STORES[:4]):
        expected = nx.single_source_dijkstra_path_length(district.graph, node, weight="travel_time")
        for target in range(0, district.node_count, 37):
            want = expected.get(target, math.inf)
            got = tables.from_store_s(s, target)
            if want <= 900.0:
                assert got == pytest.approx(want, rel=1e-5)
            else:
                assert got == math.inf


def test_to_store_matches_networkx_on_reversed_graph(district, tables):
    reversed_graph = district.graph.reverse(copy=False)
    for s, node in enumerate(STORES[:4]):
        expected = nx.single_source_dijkstra_path_length(reversed_graph, node, weight="travel_time")
        for source in range(3, district.node_count, 41):
            want = expected.get(source, math.inf)
            got = tables.to_store_s(source, s)
            assert got == (pytest.approx(want, rel=1e-5) if want <= 900.0 else math.inf)


def test_stores_in_reach_is_sorted_nearest_first_and_within_cutoff(district, tables):
    for node in range(0, district.node_count, 13):
        stores, times = tables.stores_in_reach(node)
        assert (np.diff(times) >= 0).all()
        assert (times <= 900.0).all()
        for s, t in zip(stores.tolist(), times.tolist(), strict=True):
            assert tables.from_store_s(s, node) == t
    assert set(tables.stores_in_reach(1500)[0].tolist()) >= {6, 7}


def test_pairs_beyond_cutoff_are_inf_not_errors(district):
    small = build_tables(district, [0], cutoff_s=30.0)
    far = int(np.argmax([district.travel_time_s(0, n) for n in range(0, district.node_count, 5)])) * 5
    assert small.from_store_s(0, far) == math.inf
    assert small.to_store_s(far, 0) == math.inf
    assert small.eta_matrix(np.array([far]))[0, 0] == math.inf
    assert small.stores_in_reach(far)[0].size == 0


def test_eta_matrix_matches_to_store(district, tables):
    couriers = np.array([1, 2, 3, 500, 1500, 1700, 1700])
    matrix = tables.eta_matrix(couriers)
    assert matrix.shape == (len(couriers), tables.store_count)
    for i, node in enumerate(couriers):
        for s in range(tables.store_count):
            assert matrix[i, s] == np.float32(tables.to_store_s(int(node), s))
    assert matrix[4, 6] == 0.0  # a courier standing at the store


def test_tables_are_immutable_and_report_bytes(tables):
    with pytest.raises(AttributeError):
        tables.cutoff_s = 1.0
    with pytest.raises(ValueError):
        tables.from_time[0] = 0.0
    assert tables.nbytes >= tables.from_time.nbytes + tables.to_time.nbytes
    assert tables.store_count == len(STORES)


def test_build_tables_rejects_bad_input(district):
    with pytest.raises(ValueError):
        build_tables(district, [district.node_count], cutoff_s=10)
    with pytest.raises(ValueError):
        build_tables(district, [0], cutoff_s=0)
