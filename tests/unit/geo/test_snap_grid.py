"""The snapping grid answers exactly what the KD-tree answers, or leaves the point to it."""

from __future__ import annotations

import numpy as np
import pytest

from geo.errors import OutOfArea
from geo.snap_grid import CELL_M, SnapGrid


def _tree_snap(network, lat: float, lon: float) -> tuple[int, float] | None:
    distance, index = network._tree.query(network.project(np.array([lat]), np.array([lon]))[0])
    return (int(network._tree_nodes[index]), float(distance)) if distance <= 500 else None


@pytest.mark.parametrize("network_name", ["district", "jingan"])
def test_snap_gives_the_kd_trees_node_and_distance_everywhere(network_name, request):
    network = request.getfixturevalue(network_name)
    rng = np.random.default_rng(7)
    b = network.bounds
    nodes = rng.integers(0, network.node_count, 3000)
    lats = np.r_[rng.uniform(b.min_lat, b.max_lat, 3000), network.lat[nodes] + rng.normal(0, 1e-4, 3000),
                 network.lat[nodes]]
    lons = np.r_[rng.uniform(b.min_lon, b.max_lon, 3000), network.lon[nodes] + rng.normal(0, 1e-4, 3000),
                 network.lon[nodes]]
    answered_by_grid = 0
    for lat, lon in zip(lats.tolist(), lons.tolist(), strict=True):
        try:
            snap = network.snap(lat, lon, max_distance_m=500)
            got = (snap.node, snap.distance_m)
        except OutOfArea:
            got = None
        assert got == _tree_snap(network, lat, lon), (lat, lon)
        xy = network.project(np.array([lat]), np.array([lon]))[0]
        answered_by_grid += network._grid.nearest(float(xy[0]), float(xy[1])) is not None
    assert answered_by_grid >= 6000  # every node coordinate and most points near a road


def test_grid_leaves_a_tie_between_two_nodes_to_the_tree():
    points = np.array([[0.0, 0.0], [2.0, 0.0], [5.0, 5.0]])
    grid = SnapGrid(points, np.array([10, 11, 10]))
    assert grid.nearest(1.0, 0.0) is None  # equidistant from nodes 10 and 11
    assert grid.nearest(0.5, 0.0) == (0.5, 10)


def test_grid_leaves_a_point_a_cell_or_more_from_every_point_to_the_tree():
    grid = SnapGrid(np.array([[0.0, 0.0]]), np.array([3]))
    assert grid.nearest(CELL_M * 0.9, 0.0) == (pytest.approx(CELL_M * 0.9), 3)
    assert grid.nearest(CELL_M * 1.5, 0.0) is None  # something outside the 3 × 3 cells could be nearer
    assert grid.nearest(CELL_M * 10, 0.0) is None
