"""`flashdispatch graph tile`: a synthetic city stitched from copies of a real district.

Roads inside each tile are real OSM roads (copied and shifted); the links between tiles are
INVENTED (a few short two-way roads across each shared side, marked ``synthetic``). The result is
for benchmarks that show how costs grow with city size, never for serving real orders.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    """Arguments: --graph FILE, --grid RxC, --out FILE."""
    parser.description = (
        "Stitch rows x cols copies of a real district into a city-sized graph for benchmarks. "
        "Roads inside each tile are real; the links between neighbouring tiles are INVENTED "
        "(synthetic=True on those edges), so the result is synthetic — do not serve it. "
        "Map data © OpenStreetMap contributors (ODbL 1.0)."
    )
    parser.add_argument("--graph", type=Path, required=True, metavar="FILE",
                        help="source district (.graphml, .osm or .osm.bz2)")
    parser.add_argument("--grid", default="8x8", metavar="ROWSxCOLS", help="default 8x8")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.graphml")
    parser.add_argument("--links-per-side", type=int, default=8,
                        help="invented two-way links between neighbouring tiles (default 8)")
    parser.add_argument("--gap-m", type=float, default=150.0,
                        help="gap between tiles bridged by the invented links (default 150 m)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Tile the graph and write GraphML; print node and edge counts."""
    from geo.errors import GeoError
    from geo.loading import read_raw_graph, save_graph
    from geo.tiling import tile_network

    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", args.grid)
    if match is None or min(int(match[1]), int(match[2])) < 1:
        print(f"flashdispatch graph tile: --grid {args.grid!r} is not ROWSxCOLS", file=sys.stderr)
        return 2
    rows, cols = int(match[1]), int(match[2])
    if not args.graph.is_file():
        print(f"flashdispatch graph tile: {args.graph} does not exist", file=sys.stderr)
        return 2
    try:
        print(f"reading {args.graph} …", file=sys.stderr)
        source = read_raw_graph(args.graph)
    except GeoError as exc:
        print(f"flashdispatch graph tile: {exc} ({exc.code})", file=sys.stderr)
        return 1
    print(f"tiling {rows}x{cols} copies of {source.number_of_nodes():,} nodes …", file=sys.stderr)
    city = tile_network(source, rows=rows, cols=cols, gap_m=args.gap_m,
                        links_per_side=args.links_per_side)
    print(f"writing {args.out} …", file=sys.stderr)
    save_graph(city, args.out)
    synthetic = sum(1 for *_e, d in city.edges(data=True) if d.get("synthetic"))
    print(f"{args.out}: {city.number_of_nodes():,} nodes, {city.number_of_edges():,} edges "
          f"({synthetic:,} invented tile links) — synthetic city, roads inside tiles are real")
    return 0
