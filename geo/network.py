"""Road network: a courier graph restricted to its largest strongly connected component.

Nodes are numbered ``0 .. n-1``; the same numbers index ``lat``/``lon``, the CSR matrices and the
networkx graph. Built once, never changed afterwards, so it can be shared between threads.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from geo.distance import EARTH_RADIUS_M
from geo.errors import NetworkLoadError, OutOfArea
from geo.profile import DEFAULT_PROFILE, SpeedProfile
from geo.snap_grid import MAX_POINTS, SnapGrid

if TYPE_CHECKING:
    import networkx as nx

#: Spacing of the points sampled along every road for snapping (metres).
SNAP_SAMPLE_M = 25.0
#: Smallest travel time kept on an edge, so a zero-length edge stays an edge in the CSR.
MIN_EDGE_S = 1e-3
#: Memory for single-source searches kept between calls. A round sequences the drop-offs of every
#: candidate bundle (drop-off → drop-off rides, one search per origin); with a fixed 32 origins the
#: cache thrashed once thousands of orders were open, and those searches were a third of a round's
#: CPU (py-spy on the dispatcher, bench load at 80 %). 128 MB keeps every origin of the bundled
#: district (1,826 nodes), about 1,000 origins of a 16,000-node city, 160 of a 100,000-node one.
SOURCE_CACHE_BYTES = 128 * 2**20


@dataclass(frozen=True, slots=True)
class Snap:
    """A point placed on the network: the node it reaches and how far the road is."""

    node: int
    distance_m: float


@dataclass(frozen=True, slots=True)
class Bounds:
    """The bounding box of the network's nodes, in degrees."""

    min_lat: float
    min_lon: float
    max_lat: float
    max_lon: float


class RoadNetwork:
    """A courier road network, immutable after construction.

    Parameters
    ----------
    graph
        A networkx ``MultiDiGraph`` with nodes ``0 .. n-1`` (attributes ``x`` = lon, ``y`` = lat),
        strongly connected, and a positive ``travel_time`` (seconds) on every edge — what
        :func:`geo.loading.prepare_graph` returns.
    profile
        The speed profile the travel times came from.
    source
        A label (usually the file it was loaded from).
    """

    __slots__ = (
        "_frozen",
        "_grid",
        "_lock",
        "_origin",
        "_source_cache",
        "_source_cache_size",
        "_tree",
        "_tree_nodes",
        "bounds",
        "csr",
        "csr_reversed",
        "graph",
        "lat",
        "lon",
        "node_count",
        "osmid",
        "profile",
        "source",
    )

    def __init__(
        self, graph: nx.MultiDiGraph, *, profile: SpeedProfile = DEFAULT_PROFILE, source: str = ""
    ) -> None:
        n = graph.number_of_nodes()
        if n == 0:
            raise NetworkLoadError(f"road network {source or '(graph)'} has no rideable roads")
        if set(graph.nodes) != set(range(n)):
            raise NetworkLoadError("road network nodes must be numbered 0 .. n-1")
        self.graph = graph
        self.profile = profile
        self.source = source
        self.node_count = n
        lat = np.empty(n, dtype=np.float64)
        lon = np.empty(n, dtype=np.float64)
        osmid = np.zeros(n, dtype=np.int64)
        for node, data in graph.nodes(data=True):
            lat[node] = float(data["y"])
            lon[node] = float(data["x"])
            raw = data.get("osmid", node)
            osmid[node] = raw if isinstance(raw, int) else node
        self.lat = _frozen_array(lat)
        self.lon = _frozen_array(lon)
        self.osmid = _frozen_array(osmid)
        self.bounds = Bounds(
            float(lat.min()), float(lon.min()), float(lat.max()), float(lon.max())
        )
        self.csr, self.csr_reversed = _build_csr(graph, n)
        self._origin = (float(lat.mean()), float(lon.mean()))
        self._tree, self._tree_nodes = self._build_snap_index()
        self._grid = SnapGrid(self._tree.data, self._tree_nodes) if self._tree.n <= MAX_POINTS else None
        self._lock = threading.Lock()
        self._source_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._source_cache_size = max(32, SOURCE_CACHE_BYTES // (8 * max(n, 1)))  # float64 per node
        self._frozen = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False):
            raise AttributeError(f"RoadNetwork is immutable (tried to set {name})")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return f"RoadNetwork({self.source!r}, nodes={self.node_count}, edges={self.csr.nnz})"

    # --- snapping -------------------------------------------------------------------------

    def project(self, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        """Local metric coordinates (equirectangular around the network's centre), shape (k, 2)."""
        lat0, lon0 = self._origin
        x = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * np.radians(np.asarray(lons) - lon0)
        y = EARTH_RADIUS_M * np.radians(np.asarray(lats) - lat0)
        return np.column_stack([x, y])

    def snap(self, lat: float, lon: float, *, max_distance_m: float) -> Snap:
        """Place a point on the network.

        Parameters
        ----------
        lat, lon
            The point, in degrees.
        max_distance_m
            How far from the nearest road a point may be and still be served.

        Returns
        -------
        Snap
            The node the point reaches and its distance to the road in metres.

        Raises
        ------
        OutOfArea
            If the coordinates are not valid degrees or the point is farther than
            ``max_distance_m`` from every road.
        """
        try:
            lat_f, lon_f = float(lat), float(lon)
        except (TypeError, ValueError):
            raise OutOfArea(f"({lat!r}, {lon!r}) is not a coordinate") from None
        if not (math.isfinite(lat_f) and math.isfinite(lon_f)) or abs(lat_f) > 90 or abs(
            lon_f
        ) > 180:
            raise OutOfArea(f"({lat_f}, {lon_f}) is not a valid latitude/longitude")
        # scalar projection (same formula as ``project``): numpy overhead dominates one point
        lat0, lon0 = self._origin
        x = EARTH_RADIUS_M * math.cos(math.radians(lat0)) * math.radians(lon_f - lon0)
        y = EARTH_RADIUS_M * math.radians(lat_f - lat0)
        near = self._grid.nearest(x, y) if self._grid is not None else None
        if near is None:
            distance, index = self._tree.query((x, y))
            node = int(self._tree_nodes[index])
        else:
            distance, node = near
        if not distance <= max_distance_m:
            raise OutOfArea(
                f"({lat_f:.6f}, {lon_f:.6f}) is {distance:,.0f} m from the nearest road "
                f"(limit {max_distance_m:,.0f} m)"
            )
        return Snap(node=node, distance_m=float(distance))

    def snap_many(self, lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Place many points at once (no distance limit; check the distances yourself).

        Parameters
        ----------
        lats, lons
            Arrays of degrees, same length.

        Returns
        -------
        tuple of ndarray
            ``(nodes, distances_m)``; invalid coordinates get node ``-1`` and distance ``inf``.
        """
        lats = np.asarray(lats, dtype=np.float64)
        lons = np.asarray(lons, dtype=np.float64)
        valid = np.isfinite(lats) & np.isfinite(lons) & (np.abs(lats) <= 90) & (np.abs(lons) <= 180)
        nodes = np.full(lats.shape, -1, dtype=np.int64)
        distances = np.full(lats.shape, np.inf, dtype=np.float64)
        if valid.any():
            d, idx = self._tree.query(self.project(lats[valid], lons[valid]))
            nodes[valid] = self._tree_nodes[idx]
            distances[valid] = d
        return nodes, distances

    def _build_snap_index(self) -> tuple[cKDTree, np.ndarray]:
        """A KD-tree of the nodes and of points every few metres along every road."""
        points = [self.project(self.lat, self.lon)]
        point_nodes = [np.arange(self.node_count, dtype=np.int64)]
        head, tail, vertices = self._edge_vertices()
        if vertices is not None:
            lon_v, lat_v, edge_of = vertices
            sample, edge, near_head = _sample_edges(self.project(lat_v, lon_v), edge_of)
            points.append(sample)
            point_nodes.append(np.where(near_head, head[edge], tail[edge]))
        tree = cKDTree(np.concatenate(points))
        return tree, _frozen_array(np.concatenate(point_nodes))

    def _edge_vertices(
        self,
    ) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Each edge's head and tail node, and the vertices of every edge's polyline.

        The vertices are ``(lon, lat, edge index)``, grouped by edge and in order along it: the
        geometry's where the edge has one, else its two end nodes (None for a graph without edges).
        """
        import shapely

        heads: list[int] = []
        tails: list[int] = []
        geoms: list[Any] = []
        geom_edges: list[int] = []
        plain_edges: list[int] = []
        for i, (u, v, data) in enumerate(self.graph.edges(data=True)):
            heads.append(u)
            tails.append(v)
            geom = data.get("geometry")
            if geom is not None and hasattr(geom, "coords"):
                geoms.append(geom)
                geom_edges.append(i)
            else:
                plain_edges.append(i)
        head = np.asarray(heads, dtype=np.int64)
        tail = np.asarray(tails, dtype=np.int64)
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        owners: list[np.ndarray] = []  # edge index of each polyline vertex
        if geoms:
            coords, which = shapely.get_coordinates(geoms, return_index=True)
            xs.append(coords[:, 0])
            ys.append(coords[:, 1])
            owners.append(np.asarray(geom_edges, dtype=np.int64)[which])
        if plain_edges:
            pe = np.asarray(plain_edges, dtype=np.int64)
            both = np.stack([head[pe], tail[pe]], axis=1).ravel()
            xs.append(self.lon[both])
            ys.append(self.lat[both])
            owners.append(np.repeat(pe, 2))
        if not owners:
            return head, tail, None
        edge_of = np.concatenate(owners)
        order = np.argsort(edge_of, kind="stable")
        return head, tail, (np.concatenate(xs)[order], np.concatenate(ys)[order], edge_of[order])

    # --- travel times ---------------------------------------------------------------------

    def travel_time_s(self, a: int, b: int) -> float:
        """Shortest travel time from node ``a`` to node ``b`` in seconds (``math.inf`` if none).

        Parameters
        ----------
        a, b
            Node indices.

        Returns
        -------
        float
            Seconds; single-source searches are cached per origin.
        """
        if a == b:
            return 0.0
        return float(self._from_source(a)[b])

    def _from_source(self, a: int) -> np.ndarray:
        with self._lock:
            cached = self._source_cache.get(a)
            if cached is not None:
                self._source_cache.move_to_end(a)
                return cached
        distances = dijkstra(self.csr, directed=True, indices=int(a))
        with self._lock:
            self._source_cache[a] = distances
            while len(self._source_cache) > self._source_cache_size:
                self._source_cache.popitem(last=False)
        return distances

    def node_lat_lon(self, node: int) -> tuple[float, float]:
        """The ``(lat, lon)`` of a node."""
        return float(self.lat[node]), float(self.lon[node])


def _build_csr(graph: nx.MultiDiGraph, n: int) -> tuple[csr_array, csr_array]:
    """CSR matrices of travel seconds, parallel edges collapsed to the fastest one."""
    rows, cols, times = [], [], []
    for u, v, t in graph.edges(data="travel_time"):
        if u == v:
            continue
        rows.append(u)
        cols.append(v)
        times.append(t)
    u = np.asarray(rows, dtype=np.int64)
    v = np.asarray(cols, dtype=np.int64)
    t = np.maximum(np.asarray(times, dtype=np.float64), MIN_EDGE_S)
    order = np.lexsort((t, v, u))
    u, v, t = u[order], v[order], t[order]
    keep = np.r_[True, (u[1:] != u[:-1]) | (v[1:] != v[:-1])]
    u, v, t = u[keep], v[keep], t[keep]
    forward = csr_array((t, (u, v)), shape=(n, n))
    backward = csr_array((t, (v, u)), shape=(n, n))
    return forward, backward



def _sample_edges(xy: np.ndarray, edge_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points at most ``SNAP_SAMPLE_M`` apart along every edge's polyline, vectorised.

    ``xy`` are projected vertices grouped by edge (``edge_of``), in order along each edge.
    Returns the sample points, the edge each lies on, and whether it lies in the edge's first
    half (a snap there goes to the edge's head node, otherwise to its tail).
    """
    same = edge_of[1:] == edge_of[:-1]  # segment i joins vertex i and i+1 of one edge
    seg = np.nonzero(same)[0]
    p0, p1 = xy[seg], xy[seg + 1]
    seg_len = np.hypot(*(p1 - p0).T)
    seg_edge = edge_of[seg]
    # distance along the edge at each segment's start, and the edge's total length
    cum = np.cumsum(seg_len)
    first_of_edge = np.r_[True, seg_edge[1:] != seg_edge[:-1]]
    edge_start_cum = (cum - seg_len)[first_of_edge]
    group = np.cumsum(first_of_edge) - 1
    along0 = cum - seg_len - edge_start_cum[group]
    edge_total = np.bincount(group, weights=seg_len)
    k = np.maximum(1, np.ceil(seg_len / SNAP_SAMPLE_M).astype(np.int64))
    seg_rep = np.repeat(np.arange(len(seg)), k)
    frac = (np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k) + 0.5) / np.repeat(k, k)
    sample = p0[seg_rep] + (p1 - p0)[seg_rep] * frac[:, None]
    along = along0[seg_rep] + seg_len[seg_rep] * frac
    near_head = along <= edge_total[group[seg_rep]] / 2
    return sample, seg_edge[seg_rep], near_head

def _frozen_array(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array
