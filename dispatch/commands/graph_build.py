"""`flashdispatch graph build`: a courier road network GraphML from an OSM file or a place name."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: one source (--osm FILE or --place NAME), --out FILE.graphml, speed profile."""
    parser.description = (
        "Build a courier road network: filter OSM to roads an e-bike courier may ride (no "
        "motorways, no foot-only ways unless --allow-footways), set travel times from the speed "
        "profile, keep the largest strongly connected part, write GraphML. --osm works offline; "
        "--place downloads from OpenStreetMap with osmnx (needs network access). "
        "Map data © OpenStreetMap contributors (ODbL 1.0)."
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--osm", type=Path, metavar="FILE",
                        help="a .osm, .osm.bz2 or .graphml file (offline)")
    source.add_argument("--place", metavar="NAME",
                        help='a place osmnx can geocode, e.g. "Futian District, Shenzhen" (online)')
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.graphml")
    parser.add_argument("--speed-kmh", type=float, default=18.0,
                        help="courier cruising speed, capped by maxspeed (default 18)")
    parser.add_argument("--allow-footways", action="store_true",
                        help="let couriers walk the bike on footways/pedestrian streets")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Build the network and write it; print a one-line summary."""
    from geo.errors import GeoError
    from geo.loading import build_graph_from_place, prepare_graph, read_raw_graph, save_graph
    from geo.profile import SpeedProfile

    try:
        profile = SpeedProfile(speed_kmh=args.speed_kmh, allow_footways=args.allow_footways)
    except ValueError as exc:
        print(f"flashdispatch graph build: {exc}", file=sys.stderr)
        return 2
    try:
        if args.osm is not None:
            if not args.osm.is_file():
                print(f"flashdispatch graph build: {args.osm} does not exist", file=sys.stderr)
                return 2
            print(f"reading {args.osm} …", file=sys.stderr)
            graph = prepare_graph(read_raw_graph(args.osm, profile=profile), profile=profile)
        else:
            print(f"downloading roads of {args.place!r} …", file=sys.stderr)
            graph = build_graph_from_place(args.place, profile=profile)
    except GeoError as exc:
        print(f"flashdispatch graph build: {exc} ({exc.code})", file=sys.stderr)
        return 1
    print(f"writing {args.out} …", file=sys.stderr)
    save_graph(graph, args.out)
    print(f"{args.out}: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges "
          f"({profile.name}, {profile.speed_kmh:g} km/h)")
    return 0
