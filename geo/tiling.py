"""Synthetic city: copies of a real district stitched side by side into a city-sized graph.

Roads inside each tile are real (copied from the source district, shifted); the links between
neighbouring tiles are INVENTED — a few short two-way ``tertiary`` roads across the gap, marked
``synthetic=True``. A tiled city is for measuring how costs grow with size, never for serving.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from geo.distance import EARTH_RADIUS_M, haversine_m
from geo.profile import DEFAULT_PROFILE, SpeedProfile

if TYPE_CHECKING:
    import networkx as nx


def tile_network(
    graph: nx.MultiDiGraph,
    *,
    rows: int,
    cols: int,
    gap_m: float = 150.0,
    links_per_side: int = 8,
    profile: SpeedProfile = DEFAULT_PROFILE,
) -> nx.MultiDiGraph:
    """Stitch ``rows × cols`` copies of a district into one graph.

    Parameters
    ----------
    graph
        An osmnx graph (nodes with ``x``/``y``), e.g. from ``osmnx.load_graphml``.
    rows, cols
        The grid size.
    gap_m
        Space left between neighbouring tiles, bridged by the invented links.
    links_per_side
        How many invented two-way links join each pair of neighbouring tiles (one per band
        along the shared side, between the nodes closest to the side).
    profile
        Only nodes on roads this profile may ride are used as link ends.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes ``tile * n + i`` (``i`` the node's rank in the source), attributes ``tile``,
        ``source_osmid``; invented edges carry ``synthetic=True``.
    """
    import networkx as nx
    import shapely.affinity

    if rows < 1 or cols < 1:
        raise ValueError("the grid needs at least one row and one column")
    if links_per_side < 1:
        raise ValueError("links_per_side must be at least 1")
    source_nodes = sorted(graph.nodes)
    rank = {node: i for i, node in enumerate(source_nodes)}
    n = len(source_nodes)
    xs = [float(graph.nodes[v]["x"]) for v in source_nodes]
    ys = [float(graph.nodes[v]["y"]) for v in source_nodes]
    min_x, max_x, min_y, max_y = min(xs), max(xs), min(ys), max(ys)
    mid_lat = math.radians((min_y + max_y) / 2)
    gap_lat = math.degrees(gap_m / EARTH_RADIUS_M)
    gap_lon = gap_lat / math.cos(mid_lat)
    step_x = (max_x - min_x) + gap_lon
    step_y = (max_y - min_y) + gap_lat

    rideable = {
        rank[end]
        for u, v, data in graph.edges(data=True)
        if profile.is_rideable(data.get("highway"))
        for end in (u, v)
    }
    city = nx.MultiDiGraph()
    city.graph.update(graph.graph)
    city.graph["synthetic_city"] = f"{rows}x{cols} tiles; links between tiles are invented"
    for row in range(rows):
        for col in range(cols):
            tile = row * cols + col
            dx, dy = col * step_x, row * step_y
            base = tile * n
            for node in source_nodes:
                data = dict(graph.nodes[node])
                data["x"] = float(data["x"]) + dx
                data["y"] = float(data["y"]) + dy
                data["tile"] = tile
                data["source_osmid"] = node
                data.pop("osmid", None)
                city.add_node(base + rank[node], **data)
            for u, v, key, data in graph.edges(keys=True, data=True):
                attrs = dict(data)
                geom = attrs.get("geometry")
                if geom is not None and hasattr(geom, "coords"):
                    attrs["geometry"] = shapely.affinity.translate(geom, xoff=dx, yoff=dy)
                city.add_edge(base + rank[u], base + rank[v], key=key, **attrs)

    def link(a: int, b: int) -> None:
        pa, pb = city.nodes[a], city.nodes[b]
        length = haversine_m(pa["y"], pa["x"], pb["y"], pb["x"])
        for s, t in ((a, b), (b, a)):
            city.add_edge(s, t, osmid=-1, highway="tertiary", oneway=False, reversed=False,
                          length=length, synthetic=True, name="synthetic tile link")

    ride = sorted(rideable)
    for row in range(rows):
        for col in range(cols):
            tile = row * cols + col
            if col + 1 < cols:  # east side of this tile to the west side of the next
                for i, j in _side_pairs(ride, xs, ys, axis="x", bands=links_per_side,
                                        low=min_y, high=max_y):
                    link(tile * n + i, (tile + 1) * n + j)
            if row + 1 < rows:  # north side to the south side of the tile above
                for i, j in _side_pairs(ride, ys, xs, axis="y", bands=links_per_side,
                                        low=min_x, high=max_x):
                    link(tile * n + i, (tile + cols) * n + j)
    return city


def _side_pairs(candidates: list[int], along: list[float], across: list[float], *, axis: str,
                bands: int, low: float, high: float) -> list[tuple[int, int]]:
    """Per band across the shared side: (node nearest the far side, node nearest the near side)."""
    width = (high - low) / bands or 1.0
    best_hi: dict[int, int] = {}
    best_lo: dict[int, int] = {}
    for i in candidates:
        band = min(bands - 1, int((across[i] - low) / width))
        if band not in best_hi or along[i] > along[best_hi[band]]:
            best_hi[band] = i
        if band not in best_lo or along[i] < along[best_lo[band]]:
            best_lo[band] = i
    return [(best_hi[b], best_lo[b]) for b in sorted(best_hi) if b in best_lo]
