"""The road network as GeoJSON for a map: one simplified LineString per road, rounded coordinates."""

from __future__ import annotations

from typing import Any

from geo.network import RoadNetwork

#: Above this many roads the map gets the longest ones only (and says so with ``thinned``).
MAX_MAP_EDGES = 50_000
#: Coordinates to 5 decimals: about 1 m, finer than any screen shows a road.
DECIMALS = 5
#: Douglas-Peucker tolerance in degrees (about 2 m): bends a map cannot show are dropped.
SIMPLIFY_DEG = 2e-5


def network_geojson(
    network: RoadNetwork, *, max_edges: int = MAX_MAP_EDGES, decimals: int = DECIMALS
) -> dict[str, Any]:
    """The network's roads as a GeoJSON FeatureCollection of LineStrings.

    Parameters
    ----------
    network
        The road network.
    max_edges
        The most roads drawn; above it the longest ``max_edges`` are kept and the collection
        carries ``"thinned": true``.
    decimals
        Decimal places kept in every coordinate.

    Returns
    -------
    dict
        ``{"type": "FeatureCollection", "features": [...], "edges": n, "thinned": bool}``. A road
        ridden both ways is drawn once; consecutive equal points after rounding are dropped.
    """
    lines = _road_lines(network, decimals)
    thinned = len(lines) > max_edges
    if thinned:
        lines.sort(key=_extent, reverse=True)
        lines = lines[:max_edges]
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": c}}
            for c in lines
        ],
        "edges": len(lines),
        "thinned": thinned,
    }


def _road_lines(network: RoadNetwork, decimals: int) -> list[list[list[float]]]:
    from shapely.geometry import LineString

    seen: set[tuple[int, int]] = set()
    lines: list[list[list[float]]] = []
    for u, v, data in network.graph.edges(data=True):
        key = (min(u, v), max(u, v))
        if key in seen or u == v:
            continue
        seen.add(key)
        geom = data.get("geometry")
        if geom is not None and hasattr(geom, "coords"):
            line = geom.simplify(SIMPLIFY_DEG, preserve_topology=False)
        else:
            line = LineString([(network.lon[u], network.lat[u]), (network.lon[v], network.lat[v])])
        coords = _rounded(line.coords, decimals)
        if len(coords) >= 2:
            lines.append(coords)
    return lines


def _rounded(points: Any, decimals: int) -> list[list[float]]:
    out: list[list[float]] = []
    for x, y in points:
        point = [round(float(x), decimals), round(float(y), decimals)]
        if not out or out[-1] != point:
            out.append(point)
    return out


def _extent(coords: list[list[float]]) -> float:
    """A cheap length proxy in degrees (the bounding box's half perimeter)."""
    xs = [c[0] for c in coords]
    ys = [c[1] for c in coords]
    return (max(xs) - min(xs)) + (max(ys) - min(ys))
