"""Synthetic city: copies of a real district stitched side by side into a city-sized graph.

Roads inside each tile are real (copied from the source district, shifted); the links between
neighbouring tiles are INVENTED — a few short two-way ``tertiary`` roads across the gap, marked
``synthetic=True``. A tiled city is for measuring how costs grow with size, never for serving.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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

    if rows < 1 or cols < 1:
        raise ValueError("the grid needs at least one row and one column")
    if links_per_side < 1:
        raise ValueError("links_per_side must be at least 1")
    layout = _Layout.of(graph, gap_m=gap_m)
    city = nx.MultiDiGraph()
    city.graph.update(graph.graph)
    city.graph["synthetic_city"] = f"{rows}x{cols} tiles; links between tiles are invented"
    for row in range(rows):
        for col in range(cols):
            _copy_tile(graph, city, layout, tile=row * cols + col, dx=col * layout.step_x,
                       dy=row * layout.step_y)
    ride = _rideable_ranks(graph, layout, profile)
    for row in range(rows):
        for col in range(cols):
            tile = row * cols + col
            if col + 1 < cols:  # east side of this tile to the west side of the next
                _link_tiles(city, layout, (tile, tile + 1),
                            _side_pairs(ride, layout.xs, layout.ys, axis="x", bands=links_per_side,
                                        low=layout.min_y, high=layout.max_y))
            if row + 1 < rows:  # north side to the south side of the tile above
                _link_tiles(city, layout, (tile, tile + cols),
                            _side_pairs(ride, layout.ys, layout.xs, axis="y", bands=links_per_side,
                                        low=layout.min_x, high=layout.max_x))
    return city


@dataclass(frozen=True, slots=True)
class _Layout:
    """The source district's nodes in a fixed order, its extent, and the step between tiles."""

    source_nodes: list[int]
    rank: dict[int, int]  # source node -> its position in ``source_nodes``
    xs: list[float]
    ys: list[float]
    min_x: float
    max_x: float
    min_y: float
    max_y: float
    step_x: float
    step_y: float

    @classmethod
    def of(cls, graph: nx.MultiDiGraph, *, gap_m: float) -> _Layout:
        """Measure the district; the step between tiles is its extent plus ``gap_m`` (in degrees)."""
        source_nodes = sorted(graph.nodes)
        xs = [float(graph.nodes[v]["x"]) for v in source_nodes]
        ys = [float(graph.nodes[v]["y"]) for v in source_nodes]
        min_x, max_x, min_y, max_y = min(xs), max(xs), min(ys), max(ys)
        mid_lat = math.radians((min_y + max_y) / 2)
        gap_lat = math.degrees(gap_m / EARTH_RADIUS_M)
        gap_lon = gap_lat / math.cos(mid_lat)
        return cls(
            source_nodes=source_nodes,
            rank={node: i for i, node in enumerate(source_nodes)},
            xs=xs,
            ys=ys,
            min_x=min_x,
            max_x=max_x,
            min_y=min_y,
            max_y=max_y,
            step_x=(max_x - min_x) + gap_lon,
            step_y=(max_y - min_y) + gap_lat,
        )

    @property
    def n(self) -> int:
        """Nodes per tile."""
        return len(self.source_nodes)


def _copy_tile(graph: nx.MultiDiGraph, city: nx.MultiDiGraph, layout: _Layout, *, tile: int,
               dx: float, dy: float) -> None:
    """Add one shifted copy of the district: node ``tile * n + rank``, edge geometry moved too."""
    import shapely.affinity

    base = tile * layout.n
    rank = layout.rank
    for node in layout.source_nodes:
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


def _rideable_ranks(graph: nx.MultiDiGraph, layout: _Layout, profile: SpeedProfile) -> list[int]:
    """Ranks of the nodes on roads the profile may ride: the only allowed ends of a link."""
    rank = layout.rank
    return sorted({
        rank[end]
        for u, v, data in graph.edges(data=True)
        if profile.is_rideable(data.get("highway"))
        for end in (u, v)
    })


def _link_tiles(city: nx.MultiDiGraph, layout: _Layout, tiles: tuple[int, int],
                pairs: list[tuple[int, int]]) -> None:
    """Invent a two-way tertiary road for each (rank in the first tile, rank in the second) pair."""
    n = layout.n
    first, second = tiles
    for i, j in pairs:
        a, b = first * n + i, second * n + j
        pa, pb = city.nodes[a], city.nodes[b]
        length = haversine_m(pa["y"], pa["x"], pb["y"], pb["x"])
        for s, t in ((a, b), (b, a)):
            city.add_edge(s, t, osmid=-1, highway="tertiary", oneway=False, reversed=False,
                          length=length, synthetic=True, name="synthetic tile link")


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
