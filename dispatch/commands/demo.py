"""`flashdispatch demo`: a simulated city, live, through the real service on a virtual clock."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dispatch.settings import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--road-network", type=Path, help="road network file (default: the bundled Shenzhen one)"
    )
    parser.add_argument("--stores", type=int, default=40, help="shops (default 40)")
    parser.add_argument("--couriers", type=int, default=100, help="couriers (default 100)")
    parser.add_argument(
        "--minutes",
        type=int,
        default=240,
        help="simulated minutes of orders from 10:00, lunch peak 10:30-13:30 (default 240)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="simulated seconds per real second; 0 runs as fast as possible (default)",
    )
    parser.add_argument("--seed", type=int, default=7, help="random seed: the same seed plays the same day")
    parser.add_argument(
        "--out", type=Path, default=Path("demo-report"), help="report folder (default demo-report)"
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port for the service (default: a free one)")
    parser.add_argument(
        "--on-overload",
        choices=("accept", "extend", "refuse"),
        help="set every zone's mode to this on_overload before the day (default: no zone mode)",
    )
    parser.add_argument(
        "--short-lines",
        type=float,
        help="shelf noise: the share of lines a shop's shelf comes up short on at pick time (default 0.03)",
    )
    parser.add_argument(
        "--split-share",
        type=float,
        help="the share of orders sent with allow_split (default 0.05)",
    )
    parser.add_argument(
        "--scenario",
        choices=("rain",),
        help="rain: rain 12:00-13:00 (couriers 35%% slower, 50%% more orders, two shops busy), played three "
        "times (operator watching, switching to extend, to refuse) and compared in <out>/rain/",
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    import asyncio
    import dataclasses

    if args.road_network:
        settings = dataclasses.replace(settings, road_network=args.road_network)
    if getattr(args, "scenario", None) == "rain":
        if args.on_overload:
            print("--scenario rain sets the zone modes itself: leave out --on-overload", file=sys.stderr)
            return 2
        from dispatch.sim.rain import run_rain

        return asyncio.run(run_rain(settings, args))
    from dispatch.sim.demo import run_demo

    return asyncio.run(run_demo(settings, args))
