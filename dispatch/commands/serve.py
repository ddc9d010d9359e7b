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
    parser.add_argument("--workers", type=int, default=0, metavar="N",
                        help="N API processes on the port (SO_REUSEPORT) plus one dispatcher process;"
                        " SIGTERM/SIGINT stops them all (0: this one process plays --role)")
    parser.add_argument("--dispatcher-port", type=int, metavar="PORT",
                        help="with --workers: the dispatcher's health and metrics port (default port + 1)")
    parser.add_argument("--reuse-port", action="store_true",
                        help="listen with SO_REUSEPORT (what --workers starts its API processes with)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from aiohttp import web

    from dispatch.app import create_app
    from dispatch.logs import configure_logging

    if args.road_network:
        settings = dataclasses.replace(settings, road_network=args.road_network)
    if args.workers:
        return _run_workers(args, settings)
    configure_logging(settings.log_level)
    app = create_app(settings, role=args.role)
    web.run_app(
        app,
        host=args.host or settings.host,
        port=args.port if args.port is not None else settings.port,
        access_log=None,
        reuse_port=args.reuse_port or None,
        print=lambda msg: print(msg, flush=True),
    )
    return 0


def _run_workers(args: argparse.Namespace, settings: Settings) -> int:
    """The parent of ``--workers``: one database, migrated once, then the children (dispatch/workers.py)."""
    import asyncio

    from dispatch.postgres.database import resolve_database_url
    from dispatch.workers import WorkerPlan, child_environment, free_port, start_children, supervise

    if args.workers < 1 or args.role != "all":
        print("flashdispatch serve: --workers needs N ≥ 1 and no --role (it starts the roles itself)",
              flush=True)
        return 2
    host = args.host or settings.host
    port = args.port if args.port is not None else settings.port
    port = port or free_port(host)
    dispatcher_port = args.dispatcher_port if args.dispatcher_port is not None else port + 1
    url = resolve_database_url(settings.database_url, settings.home)
    asyncio.run(_migrate(url))
    plan = WorkerPlan(args.workers, host, port, dispatcher_port or free_port(host), settings.road_network)
    children = start_children(plan, child_environment(url))
    print(f"serving http://{host}:{port} with {plan.workers} API processes"
          f" (pids {', '.join(str(c.pid) for c in children[:-1])}) and a dispatcher"
          f" (pid {children[-1].pid}, http://{host}:{plan.dispatcher_port})", flush=True)
    return supervise(children)


async def _migrate(url: str) -> None:
    import asyncpg

    from dispatch.postgres.migrate import apply_migrations

    conn = await asyncpg.connect(url)
    try:
        await apply_migrations(conn)
    finally:
        await conn.close()
