"""Snapping grid: the exact nearest snap point for a query close to a road, in plain Python.

A KD-tree query for one point spends most of its ~10 µs converting its argument; intake snaps
one drop-off per order. Points are bucketed in square cells; the nearest point among the 3 × 3
cells around a query is the nearest of all when it lies closer than one cell (every point
outside those cells is at least a cell away). Otherwise — or when two different nodes tie —
the grid answers None and the caller asks the KD-tree, so the answer is always the tree's.
"""

from __future__ import annotations

import math

import numpy as np

#: Cell side (metres). Snap points lie at most 25 m apart along every road, so a drop-off within
#: 8 m of a road is always answered by the grid (and most farther ones are); about 10 points fall
#: in a 3 × 3 block in the dense centre of the bundled city.
CELL_M = 15.0
#: Above this many points the grid's Python objects cost more memory than it is worth.
MAX_POINTS = 400_000

_Cell = tuple[tuple[float, float, int], ...]


class SnapGrid:
    """Snap points (projected metres) and the node each stands for, bucketed by cell."""

    __slots__ = ("_cell_m", "_cells")

    def __init__(self, points: np.ndarray, nodes: np.ndarray, *, cell_m: float = CELL_M) -> None:
        self._cell_m = float(cell_m)
        # both directions of a street sample the same points for the same node: keep one of each
        buckets: dict[tuple[int, int], dict[tuple[float, float, int], None]] = {}
        cx = np.floor(points[:, 0] / cell_m).astype(np.int64).tolist()
        cy = np.floor(points[:, 1] / cell_m).astype(np.int64).tolist()
        for i, j, x, y, node in zip(cx, cy, points[:, 0].tolist(), points[:, 1].tolist(),
                                    nodes.tolist(), strict=True):
            buckets.setdefault((i, j), {})[(x, y, node)] = None
        self._cells: dict[tuple[int, int], _Cell] = {k: tuple(v) for k, v in buckets.items()}

    def nearest(self, x: float, y: float) -> tuple[float, int] | None:
        """(distance in metres, node) of the nearest point, or None when the KD-tree must decide."""
        cell = self._cell_m
        i, j = math.floor(x / cell), math.floor(y / cell)
        cells = self._cells
        best, best_node, tie = math.inf, -1, False
        for a in (i - 1, i, i + 1):
            for b in (j - 1, j, j + 1):
                for px, py, node in cells.get((a, b), ()):
                    dx, dy = x - px, y - py
                    d2 = dx * dx + dy * dy
                    if d2 < best:
                        best, best_node, tie = d2, node, False
                    elif d2 == best and node != best_node:
                        tie = True
        if best_node < 0 or tie:
            return None
        distance = math.sqrt(best)
        return (distance, best_node) if distance < cell else None
