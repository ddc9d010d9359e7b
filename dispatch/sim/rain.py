"""`flashdispatch demo --scenario rain`: the same rainy day three times — the operator only
watching, then switching the zone to ``extend``, then to ``refuse`` — and one comparison.

Each run is a whole demo day on a fresh database with the same seed, so the runs differ only by
what the operator does; each keeps its own report folder next to the comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import sys
from pathlib import Path

from dispatch.settings import Settings
from dispatch.sim.demo import DEMO_DATABASE, run_demo, say
from dispatch.sim.rain_report import comparison_table, write_comparison
from dispatch.sim.scenario import RainDay

RUNS: tuple[tuple[str, str | None], ...] = (("no action", None), ("extend", "extend"), ("refuse", "refuse"))


async def run_rain(settings: Settings, args: argparse.Namespace, *, database: str = DEMO_DATABASE) -> int:
    """Play the three runs and write the comparison; 1 if any run lost an order or a webhook event
    (a missed SLO is what the scenario shows, not a failure)."""
    out = Path(args.out) / "rain"
    runs: dict[str, dict] = {}
    for name, lever in RUNS:
        say(f"--- rain run '{name}' ---")
        figures: dict = {}
        run_args = argparse.Namespace(**{**vars(args), "out": out / name.replace(" ", "-")})
        rain = dataclasses.replace(RainDay(), lever=lever)
        code = await run_demo(settings, run_args, database=database, figures_out=figures, rain=rain)
        if code == 1:
            return 1
        runs[name] = figures
    print(comparison_table(runs))
    shown = ("stores", "couriers", "minutes", "seed")
    command = "flashdispatch demo --scenario rain " + shlex.join(f"--{k}={getattr(args, k)}" for k in shown)
    files = write_comparison(runs, out, command=command)
    print(f"comparison: {', '.join(str(f) for f in files)}", file=sys.stdout)
    return 0
