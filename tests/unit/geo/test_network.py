from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from geo.errors import GeoError, OutOfArea
from geo.loading import prepare_graph
from geo.network import RoadNetwork


def test_snap_places_a_node_coordinate_on_that_node(district):
    node = 123
    snap = district.snap(district.lat[node], district.lon[node], max_distance_m=50)
    assert snap.distance_m == pytest.approx(0.0, abs=1e-6)
    assert district.lat[snap.node] == district.lat[node]


def test_snap_measures_distance_to_the_road_not_only_to_nodes(district):
    # a point in the middle of a long edge is close to the road even if far from both ends
    u, v, data = max(district.graph.edges(data=True), key=lambda e: e[2]["length"])
    geom = data.get("geometry")
    lon, lat = (geom.interpolate(0.5, normalized=True).coords[0] if geom is not None
                else ((district.lon[u] + district.lon[v]) / 2, (district.lat[u] + district.lat[v]) / 2))
    snap = district.snap(lat, lon, max_distance_m=50)
    assert snap.distance_m < 20
    assert snap.node in (u, v)


def test_snap_outside_network_raises_out_of_area(district):
    with pytest.raises(OutOfArea) as info:
        district.snap(district.bounds.max_lat + 0.1, district.bounds.max_lon, max_distance_m=500)
    assert info.value.code == "out_of_area"
    assert isinstance(info.value, GeoError)
    assert "from the nearest road" in str(info.value)


@pytest.mark.parametrize(
    ("lat", "lon"), [(math.nan, 114.0), (22.5, math.inf), (91.0, 114.0), (22.5, 181.0), ("x", 1)]
)
def test_snap_invalid_coordinates_raise_out_of_area(district, lat, lon):
    with pytest.raises(OutOfArea):
        district.snap(lat, lon, max_distance_m=500)


def test_snap_many_matches_snap_and_marks_invalid(district):
    nodes = np.array([5, 77, 1000])
    lats = np.r_[district.lat[nodes], np.nan]
    lons = np.r_[district.lon[nodes], 114.0]
    snapped, distances = district.snap_many(lats, lons)
    for i, node in enumerate(nodes):
        assert snapped[i] == district.snap(district.lat[node], district.lon[node],
                                           max_distance_m=10).node
    assert snapped[-1] == -1 and distances[-1] == math.inf


def test_travel_time_matches_networkx_dijkstra(district):
    for a, b in [(0, 500), (900, 12), (1500, 1501)]:
        expected = nx.dijkstra_path_length(district.graph, a, b, weight="travel_time")
        assert district.travel_time_s(a, b) == pytest.approx(expected, rel=1e-9)
    assert district.travel_time_s(7, 7) == 0.0


def test_a_round_s_worth_of_origins_is_searched_once(district, monkeypatch):
    import geo.network

    searches = []
    real = geo.network.dijkstra

    def counted(*args, **kwargs):
        searches.append(kwargs.get("indices"))
        return real(*args, **kwargs)

    monkeypatch.setattr(geo.network, "dijkstra", counted)
    origins = range(200, 600, 2)  # 200 drop-offs, as a round's candidate bundles give them
    first = [district.travel_time_s(a, a + 1) for a in origins]
    assert len(searches) <= len(origins)
    searches.clear()
    assert [district.travel_time_s(a, a + 1) for a in origins] == first
    assert searches == []  # every origin kept (the bundled district fits whole)


def test_road_network_is_immutable(district):
    with pytest.raises(AttributeError):
        district.node_count = 3
    with pytest.raises(ValueError):
        district.lat[0] = 0.0


def test_bounds_cover_every_node(district):
    b = district.bounds
    assert b.min_lat <= district.lat.min() and district.lat.max() <= b.max_lat
    assert b.min_lon <= district.lon.min() and district.lon.max() <= b.max_lon


def _toy_graph(edges):
    g = nx.MultiDiGraph(crs="epsg:4326")
    for i in range(4):
        g.add_node(100 + i, x=114.0 + 0.001 * i, y=22.5)
    for u, v, length in edges:
        g.add_edge(100 + u, 100 + v, length=length, highway="residential")
    return g


def test_csr_collapses_parallel_edges_to_the_fastest():
    g = _toy_graph([(0, 1, 500.0), (0, 1, 100.0), (1, 0, 100.0), (1, 2, 50.0), (2, 1, 50.0)])
    network = RoadNetwork(prepare_graph(g))
    assert network.csr.nnz == 4
    assert network.csr[[0], [1]][0] == pytest.approx(100.0 / 5.0)


def test_prepare_graph_keeps_only_the_largest_strongly_connected_part():
    # 0 <-> 1 <-> 2 strongly connected; 3 only reachable one way: dropped
    g = _toy_graph([(0, 1, 10.0), (1, 0, 10.0), (1, 2, 10.0), (2, 1, 10.0), (2, 3, 10.0)])
    prepared = prepare_graph(g)
    assert prepared.number_of_nodes() == 3
    assert sorted(prepared.nodes[n]["osmid"] for n in prepared.nodes) == [100, 101, 102]
