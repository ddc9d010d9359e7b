"""`flashdispatch serve`: run the HTTP API, the dispatch loop and/or the webhook relay."""

from __future__ import annotations

import argparse
from pathlib import Path

from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--role", choices=("all", "api", "dispatcher", "relay"), default="all",
                        help="api: HTTP only; dispatcher: the dispatch loop and the webhook relay;"
                        " relay: only the webhook relay (each plus health and metrics)")
    parser.add_argument("--host", help="listen address (default FLASHDISPATCH_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="listen port (default FLASHDISPATCH_PORT or 8080)")
    parser.add_argument("--road-network", type=Path, help="road network file (.graphml, .osm, .osm.bz2)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from aiohttp import web

    from dispatch.app import create_app
    from dispatch.logs import configure_logging

    if args.road_network:
        settings = dataclasses.replace(settings, road_network=args.road_network)
    configure_logging(settings.log_level)
    app = create_app(settings, role=args.role)
    web.run_app(
        app,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        access_log=None,
        print=lambda msg: print(msg, flush=True),
    )
    return 0
