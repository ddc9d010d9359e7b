"""Route geometry: the road path between two nodes, as node lists and GeoJSON LineStrings."""

from __future__ import annotations

import itertools
from typing import Any

from geo.errors import Unreachable
from geo.network import RoadNetwork


def route_path_nodes(network: RoadNetwork, from_node: int, to_node: int) -> list[int]:
    """The fastest path between two nodes.

    Parameters
    ----------
    network
        The road network.
    from_node, to_node
        Node indices.

    Returns
    -------
    list of int
        Node indices from ``from_node`` to ``to_node`` inclusive.

    Raises
    ------
    Unreachable
        If no path exists (cannot happen inside one strongly connected network, but a caller
        may pass nodes of another network).
    """
    import networkx as nx

    if from_node == to_node:
        return [int(from_node)]
    try:
        _, path = nx.bidirectional_dijkstra(
            network.graph, int(from_node), int(to_node), weight="travel_time"
        )
    except (nx.NetworkXNoPath, nx.NodeNotFound) as exc:
        raise Unreachable(f"no road from node {from_node} to node {to_node}") from exc
    return [int(n) for n in path]


def route_geometry(network: RoadNetwork, from_node: int, to_node: int) -> dict[str, Any]:
    """The fastest path between two nodes as a GeoJSON LineString.

    Parameters
    ----------
    network
        The road network.
    from_node, to_node
        Node indices.

    Returns
    -------
    dict
        ``{"type": "LineString", "coordinates": [[lon, lat], ...]}`` following each edge's
        geometry where the graph has one; a single node gives two equal points.
    """
    path = route_path_nodes(network, from_node, to_node)
    graph = network.graph
    coords: list[list[float]] = [[float(network.lon[path[0]]), float(network.lat[path[0]])]]
    for u, v in itertools.pairwise(path):
        edges = graph.get_edge_data(u, v)
        data = min(edges.values(), key=lambda d: d.get("travel_time", float("inf")))
        geom = data.get("geometry")
        if geom is not None and hasattr(geom, "coords"):
            points = [[float(x), float(y)] for x, y in geom.coords]
            if points and points[0] != coords[-1]:
                coords.append(points[0])
            coords.extend(points[1:])
        else:
            coords.append([float(network.lon[v]), float(network.lat[v])])
    if len(coords) == 1:
        coords.append(list(coords[0]))
    return {"type": "LineString", "coordinates": coords}
