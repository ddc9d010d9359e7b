"""Road network loading: GraphML, raw OSM XML or a place name into a courier RoadNetwork.

Raw OSM ways are filtered to roads the speed profile allows before osmnx builds the graph
(``osmnx.graph_from_xml`` does not filter by network type). Every source then gets the same
treatment: drop edges the profile excludes, set travel times from the profile (never osmnx car
speeds), keep the largest strongly connected component, number nodes ``0 .. n-1``.
"""

from __future__ import annotations

import bz2
import hashlib
import math
import os
import pickle
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from geo.distance import haversine_m
from geo.errors import NetworkLoadError
from geo.network import RoadNetwork
from geo.profile import DEFAULT_PROFILE, ROAD_HIGHWAYS, SpeedProfile

if TYPE_CHECKING:
    import networkx as nx

Progress = Callable[[str], None]

#: Bump when the cached form changes, so old caches are ignored.
CACHE_FORMAT = "road-network-v2"
SUPPORTED_SUFFIXES = (".graphml", ".osm", ".osm.bz2")
_NO_ACCESS = frozenset({"no", "private"})
_BIKE_ALLOWED = frozenset({"yes", "designated", "permissive", "dismount"})


def load_road_network(
    path: Path,
    *,
    profile: SpeedProfile = DEFAULT_PROFILE,
    cache_dir: Path | None = None,
    progress: Progress | None = None,
) -> RoadNetwork:
    """Load a courier road network from a file, using a cache when one is given.

    Parameters
    ----------
    path
        A ``.graphml`` (osmnx), ``.osm`` or ``.osm.bz2`` file.
    profile
        The courier speed profile (which roads, how fast).
    cache_dir
        If given, the prepared graph is kept there, keyed by the file's content hash and the
        profile, so a restart does not rebuild it.
    progress
        Called with a short message before each long step.

    Returns
    -------
    RoadNetwork
        The largest strongly connected component of the rideable network.

    Raises
    ------
    NetworkLoadError
        If the file is missing, of an unknown kind, unreadable, or has no rideable roads.
    """
    path = Path(path)
    say = progress or _silent
    if not path.is_file():
        raise NetworkLoadError(f"road network file {path} does not exist")
    if not path.name.lower().endswith(SUPPORTED_SUFFIXES):
        raise NetworkLoadError(
            f"road network file {path} is not one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"network-{_cache_key(path, profile)}.pickle"
        graph = _read_cache(cache_file)
        if graph is not None:
            say(f"road network: cached {path.name} ({graph.number_of_nodes():,} nodes)")
            return RoadNetwork(graph, profile=profile, source=str(path))
    say(f"road network: reading {path.name}")
    raw = read_raw_graph(path, profile=profile)
    say(f"road network: preparing {raw.number_of_nodes():,} nodes for {profile.name}")
    graph = prepare_graph(raw, profile=profile)
    if cache_file is not None:
        _write_cache(cache_file, graph)
    return RoadNetwork(graph, profile=profile, source=str(path))


def read_raw_graph(path: Path, *, profile: SpeedProfile = DEFAULT_PROFILE) -> nx.MultiDiGraph:
    """Read a file into an osmnx graph (raw OSM filtered to the profile's roads first).

    Parameters
    ----------
    path
        A ``.graphml``, ``.osm`` or ``.osm.bz2`` file.
    profile
        Decides which OSM ways are kept from raw XML.

    Returns
    -------
    networkx.MultiDiGraph
        The graph as osmnx builds it (not yet restricted or timed).
    """
    import osmnx as ox

    name = path.name.lower()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            if name.endswith(".graphml"):
                return ox.load_graphml(path)
            with tempfile.TemporaryDirectory(prefix="flashdispatch-osm-") as tmp:
                filtered = Path(tmp) / "roads.osm"
                kept = _filter_osm_xml(path, filtered, profile=profile)
                if kept == 0:
                    raise NetworkLoadError(f"{path} has no ways a {profile.name} courier may ride")
                return ox.graph_from_xml(filtered, bidirectional=False, simplify=True,
                                         retain_all=True)
    except NetworkLoadError:
        raise
    except (OSError, EOFError, ET.ParseError, ValueError, KeyError, TypeError) as exc:
        raise NetworkLoadError(f"cannot read road network {path}: {exc}") from exc
    except Exception as exc:  # osmnx raises its own types (e.g. InsufficientResponseError)
        if type(exc).__module__.startswith(("osmnx", "networkx")):
            raise NetworkLoadError(f"cannot read road network {path}: {exc}") from exc
        raise


def build_graph_from_place(
    place: str, *, profile: SpeedProfile = DEFAULT_PROFILE
) -> nx.MultiDiGraph:
    """Download a place's roads with osmnx (needs network access) and prepare them.

    Parameters
    ----------
    place
        A place name osmnx can geocode, e.g. ``"Futian District, Shenzhen, China"``.
    profile
        The courier speed profile.

    Returns
    -------
    networkx.MultiDiGraph
        The prepared courier graph (nodes renumbered, travel times set).
    """
    import osmnx as ox

    allowed = sorted(
        h for h in ROAD_HIGHWAYS if profile.is_rideable(h)
    )
    custom_filter = f'["highway"~"^({"|".join(allowed)})$"]["access"!~"^(no|private)$"]'
    try:
        raw = ox.graph_from_place(place, custom_filter=custom_filter, simplify=True,
                                  retain_all=True)
    except Exception as exc:
        raise NetworkLoadError(f"cannot build a road network for {place!r}: {exc}") from exc
    return prepare_graph(raw, profile=profile)


def prepare_graph(graph: nx.MultiDiGraph, *, profile: SpeedProfile = DEFAULT_PROFILE
                  ) -> nx.MultiDiGraph:
    """Make a raw osmnx graph a courier graph.

    Drops edges the profile excludes (and ``access=no/private`` without bicycle access), sets
    ``speed_kph`` and ``travel_time`` (seconds) from the profile, keeps the largest strongly
    connected component and numbers its nodes ``0 .. n-1`` (the OSM id stays in ``osmid``).

    Parameters
    ----------
    graph
        A graph from osmnx (GraphML or XML); not modified.
    profile
        The courier speed profile.

    Returns
    -------
    networkx.MultiDiGraph
        A new graph.

    Raises
    ------
    NetworkLoadError
        If no rideable, connected roads remain.
    """
    import networkx as nx

    kept = nx.MultiDiGraph()
    kept.graph.update(graph.graph)
    kept.graph["speed_profile"] = profile.name
    for node, data in graph.nodes(data=True):
        if "x" not in data or "y" not in data:
            raise NetworkLoadError(f"node {node} has no coordinates")
        kept.add_node(node, **data)
    for u, v, key, data in graph.edges(keys=True, data=True):
        if not _edge_allowed(data, profile):
            continue
        length = _as_float(data.get("length"))
        if length is None or not math.isfinite(length) or length < 0:
            a, b = graph.nodes[u], graph.nodes[v]
            length = haversine_m(float(a["y"]), float(a["x"]), float(b["y"]), float(b["x"]))
        speed = profile.speed_on(data.get("highway"), data.get("maxspeed"))
        attrs = dict(data)
        attrs["length"] = length
        attrs["speed_kph"] = speed
        attrs["travel_time"] = length / (speed / 3.6)
        kept.add_edge(u, v, key=key, **attrs)
    if kept.number_of_edges() == 0:
        raise NetworkLoadError(f"no roads a {profile.name} courier may ride")
    largest = max(nx.strongly_connected_components(kept), key=len)
    if len(largest) < 2:
        raise NetworkLoadError("the rideable roads have no connected part with two nodes")
    core = kept.subgraph(largest).copy()
    for node, data in core.nodes(data=True):
        data.setdefault("osmid", node)  # a graph we wrote ourselves already carries it
    mapping = {node: index for index, node in enumerate(sorted(core.nodes))}
    return nx.relabel_nodes(core, mapping, copy=True)


def save_graph(graph: nx.MultiDiGraph, path: Path) -> None:
    """Write a graph as osmnx GraphML (readable by :func:`load_road_network`)."""
    import osmnx as ox

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        ox.save_graphml(graph, filepath=path)


def _edge_allowed(data: dict, profile: SpeedProfile) -> bool:
    if not profile.is_rideable(data.get("highway")):
        return False
    access = data.get("access")
    values = access if isinstance(access, list) else [access]
    if any(a in _NO_ACCESS for a in values):
        bicycle = data.get("bicycle")
        return isinstance(bicycle, str) and bicycle in _BIKE_ALLOWED
    return data.get("bicycle") != "no"


def _filter_osm_xml(source: Path, target: Path, *, profile: SpeedProfile) -> int:
    """Copy the nodes and the rideable ways of an OSM XML file; return how many ways were kept."""
    opener = bz2.open if source.name.lower().endswith(".bz2") else open
    with opener(source, "rb") as handle:
        root = ET.parse(handle).getroot()
    if root.tag != "osm":
        raise NetworkLoadError(f"{source} is not OSM XML (root element <{root.tag}>)")
    keep_ways = []
    used_nodes: set[str] = set()
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        highway = tags.get("highway")
        if highway not in ROAD_HIGHWAYS or tags.get("area") == "yes":
            continue
        if not _edge_allowed(tags, profile):
            continue
        keep_ways.append(way)
        used_nodes.update(ref for nd in way.iter("nd") if (ref := nd.get("ref")) is not None)
    # a fresh root: osmnx warns about files whose generator says they came from osmnx
    out = ET.Element("osm", {"version": root.get("version", "0.6"), "generator": "flashdispatch"})
    for node in root.iter("node"):
        if node.get("id") in used_nodes:
            out.append(node)
    out.extend(keep_ways)
    ET.ElementTree(out).write(target, encoding="utf-8", xml_declaration=True)
    return len(keep_ways)


def _cache_key(path: Path, profile: SpeedProfile) -> str:
    digest = hashlib.sha256()
    digest.update(CACHE_FORMAT.encode())
    digest.update(profile.cache_key().encode())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:32]


def _read_cache(cache_file: Path) -> nx.MultiDiGraph | None:
    if not cache_file.is_file():
        return None
    try:
        with cache_file.open("rb") as handle:
            return pickle.load(handle)
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        return None  # a damaged or stale cache is rebuilt, never fatal


def _write_cache(cache_file: Path, graph: nx.MultiDiGraph) -> None:
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".network-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(graph, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _as_float(value: object) -> float | None:
    if isinstance(value, list):
        value = value[0] if value else None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _silent(_message: str) -> None:
    return None
