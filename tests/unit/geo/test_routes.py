from __future__ import annotations

import itertools

import pytest
from shapely.geometry import LineString

from geo.routes import route_geometry, route_path_nodes


def test_route_geometry_is_a_geojson_linestring_from_start_to_end(district):
    geometry = route_geometry(district, 10, 1200)
    assert geometry["type"] == "LineString"
    coords = geometry["coordinates"]
    assert coords[0] == [district.lon[10], district.lat[10]]
    assert coords[-1] == pytest.approx([district.lon[1200], district.lat[1200]])
    assert all(len(p) == 2 for p in coords)
    assert LineString(coords).is_valid


def test_route_path_takes_the_fastest_path(district):
    path = route_path_nodes(district, 10, 1200)
    assert path[0] == 10 and path[-1] == 1200
    total = sum(
        min(d["travel_time"] for d in district.graph.get_edge_data(u, v).values())
        for u, v in itertools.pairwise(path)
    )
    assert total == pytest.approx(district.travel_time_s(10, 1200))


def test_route_geometry_follows_edge_geometry(district):
    u, v, _data = next(
        (u, v, d) for u, v, d in district.graph.edges(data=True)
        if d.get("geometry") is not None and len(d["geometry"].coords) > 3
        and district.travel_time_s(u, v) == d["travel_time"]
    )
    assert len(route_geometry(district, u, v)["coordinates"]) >= 4


def test_route_geometry_of_one_node_is_two_equal_points(district):
    coords = route_geometry(district, 5, 5)["coordinates"]
    assert len(coords) == 2 and coords[0] == coords[1]
