"""The `flashdispatch` command line: the one place that reads ``os.environ``."""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from dispatch.settings import Settings, SettingsError

# command path -> module under dispatch.commands exposing configure(parser) and run(args, settings)
COMMANDS: dict[tuple[str, ...], tuple[str, str]] = {
    ("serve",): ("serve", "run the HTTP API and/or the dispatch loop"),
    ("demo",): ("demo", "simulate a city through the real service"),
    ("migrate",): ("migrate", "apply database migrations"),
    ("token", "create"): ("token_create", "create an API token and print it"),
    ("graph", "build"): ("graph_build", "build a courier road network GraphML from OSM"),
    ("graph", "tile"): ("graph_tile", "stitch copies of a network into a synthetic city"),
    ("bench", "stock-sync"): ("bench_stock_sync", "stock snapshot and delta throughput"),
    ("bench", "routing"): ("bench_routing", "store choice and ETA tables against networkx"),
    ("bench", "intake"): ("bench_intake", "order intake through HTTP and PostgreSQL"),
    ("bench", "mdrp"): ("bench_mdrp", "dispatch engine on Grubhub MDRP instances"),
    ("bench", "round"): ("bench_round", "one dispatch round of the pure engine at growing scale"),
    ("bench", "load"): ("bench_load", "mixed workload against the service"),
    ("bench", "webhooks"): ("bench_webhooks", "the event log delivered to a webhook receiver"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flashdispatch", description=__doc__)
    top = parser.add_subparsers(dest="command", required=True)
    groups: dict[str, argparse._SubParsersAction] = {}
    for path, (module_name, help_text) in COMMANDS.items():
        if importlib.util.find_spec(f"dispatch.commands.{module_name}") is None:
            continue  # a command not shipped in this build
        if len(path) == 1:
            sub = top.add_parser(path[0], help=help_text)
        else:
            if path[0] not in groups:
                group = top.add_parser(path[0], help=f"{path[0]} commands")
                groups[path[0]] = group.add_subparsers(dest="subcommand", required=True)
            sub = groups[path[0]].add_parser(path[1], help=help_text)
        sub.set_defaults(_module=module_name)
        _load(module_name).configure(sub)
    return parser


def _load(module_name: str) -> ModuleType:
    return importlib.import_module(f"dispatch.commands.{module_name}")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except SettingsError as exc:
        print(f"flashdispatch: {exc}", file=sys.stderr)
        return 2
    return int(_load(args._module).run(args, settings) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
