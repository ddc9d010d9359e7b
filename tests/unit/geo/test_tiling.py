from __future__ import annotations

import osmnx as ox
import pytest

from geo.loading import prepare_graph, save_graph
from geo.network import RoadNetwork
from geo.tiling import tile_network

from .conftest import BUNDLED


@pytest.fixture(scope="module")
def raw_district():
    return ox.load_graphml(BUNDLED)


def test_tile_network_copies_every_node_per_tile(raw_district):
    city = tile_network(raw_district, rows=2, cols=3, links_per_side=4)
    n = raw_district.number_of_nodes()
    assert city.number_of_nodes() == 6 * n
    synthetic = [d for *_e, d in city.edges(data=True) if d.get("synthetic")]
    # 2x3 grid: 7 neighbouring pairs, 4 two-way links each
    assert len(synthetic) == 7 * 4 * 2
    assert city.number_of_edges() == 6 * raw_district.number_of_edges() + len(synthetic)


def test_tiled_city_is_one_strongly_connected_network(raw_district, tmp_path):
    city = tile_network(raw_district, rows=2, cols=2, links_per_side=4)
    path = tmp_path / "city.graphml"
    save_graph(city, path)
    network = RoadNetwork(prepare_graph(ox.load_graphml(path)))
    tiles = {int(d["tile"]) for _n, d in network.graph.nodes(data=True)}
    assert tiles == {0, 1, 2, 3}
    a = next(n for n, d in network.graph.nodes(data=True) if d["tile"] == "0")
    b = next(n for n, d in network.graph.nodes(data=True) if d["tile"] == "3")
    assert network.travel_time_s(a, b) < float("inf")


def test_tile_network_rejects_empty_grid(raw_district):
    with pytest.raises(ValueError):
        tile_network(raw_district, rows=0, cols=2)
