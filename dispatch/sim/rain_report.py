"""The rain scenario's report: one run's rain figures, and the three runs compared (table + chart).

Shares are over delivered orders, from the simulator's own records: against the promise each
order was given (what the SLI counts) and against the plain 30 minutes (what the customer was
first told), so an extended promise can never hide a miss.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.sim.demo_report import promise_figures
from dispatch.sim.demo_runner import DemoResult
from dispatch.sim.order_system import OrderRecord
from dispatch.sim.scenario import RainDay

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SLA_S = 1800.0
OBJECTIVE_PCT = 95.0


def _shares(records: list[OrderRecord]) -> tuple[float | None, float | None]:
    """(kept the promise given, within 30 minutes) over the delivered orders among `records`."""
    done = [r for r in records if r.delivered_s is not None and r.placed_s is not None and r.promised_s]
    if not done:
        return None, None
    kept = sum(1 for r in done if r.delivered_s is not None and r.promised_s is not None
               and r.delivered_s <= r.promised_s)  # fmt: skip
    within = sum(1 for r in done if (ctd := r.click_to_door_s) is not None and ctd <= SLA_S)
    return round(kept / len(done), 4), round(within / len(done), 4)


def rain_figures(result: DemoResult, rain: RainDay) -> dict:
    """The figures a rain run adds to the day's: both shares over the day and over the orders
    placed while it rained, the stores that went busy, and what the operator saw and did."""
    placed = [r for r in result.records.values() if r.status == 201]
    weather = rain.weather
    in_rain = [r for r in placed if r.placed_s is not None and weather.is_raining(r.placed_s)]
    day_promise, day_30 = _shares(placed)
    rain_promise, rain_30 = _shares(in_rain)
    rain_error = promise_figures([r for r in in_rain if r.delivered_s is not None])
    console = result.console
    return {
        "rain": {
            "from_min": weather.rain_from_s / 60.0, "until_min": weather.rain_until_s / 60.0,
            "slowdown": weather.slowdown, "demand_factor": weather.demand_factor, "lever": rain.lever,
            "busy_stores": {s: extra for s, (_, extra) in sorted(result.busy_stores.items())},
        },
        "on_time_vs_promise_delivered": day_promise,
        "on_time_vs_30min_delivered": day_30,
        "rain_orders_placed": len(in_rain),
        "rain_on_time_vs_promise": rain_promise,
        "rain_on_time_vs_30min": rain_30,
        "rain_promise_error_min_p90": rain_error["promise_error_min_p90"],
        "rain_promise_error_min_bias": rain_error["promise_error_min_bias"],
        "operator_readings": [[r.at_s / 60.0, r.zone, r.share] for r in console.readings] if console else [],
        "operator_switches": (
            [[s.at_s / 60.0, s.zone, s.share, s.lever] for s in console.switches] if console else []
        ),
    }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+}"


def _clock(minute: float) -> str:
    """Minutes into the day (which starts at 10:00) as a local time of day."""
    total = 10 * 60 + int(minute)
    return f"{total // 60:02d}:{total % 60:02d}"


def _switches(figures: dict) -> str:
    switches = figures["operator_switches"]
    if not switches:
        return "none"
    verb = "" if switches[0][3] else "(would) "
    return ", ".join(f"{verb}{zone} {_clock(t)} ({share * 100:.1f}%)" for t, zone, share, _ in switches)


HEADER = (
    "| run | operator switched (zone, time, 30-min share) | orders placed | refused over capacity "
    "| promises extended (min added) | on time vs promise given | on time vs plain 30 min "
    "| in the rain: vs promise / vs 30 min | promise error abs p50 / p90 (min) "
    "| in the rain: error abs p90 / bias (min) |"
)


def comparison_table(runs: dict[str, dict]) -> str:
    """The three runs side by side, as a markdown table."""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    for name, f in runs.items():
        lines.append(
            f"| {name} | {_switches(f)} | {f['orders_placed']} | {f['refused_over_capacity']} "
            f"| {f['promises_extended']} ({f['promise_minutes_added']}) "
            f"| {_pct(f['on_time_vs_promise_delivered'])} | {_pct(f['on_time_vs_30min_delivered'])} "
            f"| {_pct(f['rain_on_time_vs_promise'])} / {_pct(f['rain_on_time_vs_30min'])} "
            f"| {f['promise_error_min_p50']} / {f['promise_error_min_p90']} "
            f"| {f['rain_promise_error_min_p90']} / {_signed(f['rain_promise_error_min_bias'])} |"
        )
    return "\n".join(lines)


def write_comparison(runs: dict[str, dict], out: Path, *, command: str) -> list[Path]:
    """Write rain-comparison.md (the table), .json (every run's figures) and .png; returns them."""
    out.mkdir(parents=True, exist_ok=True)
    first = next(iter(runs.values()))["rain"]
    text = (
        "# Rain from 12:00 to 13:00: no action, extend, refuse\n\n"
        f"`{command}` — the same seed three times, each on a fresh database. Couriers ride "
        f"{first['slowdown'] * 100:.0f}% slower and orders come {first['demand_factor']}× as often while it "
        f"rains; stores that went busy themselves: {', '.join(first['busy_stores']) or 'none'}. The service "
        "is not told about the rain. Shares are over delivered orders; 'in the rain' is the orders "
        "placed between 12:00 and 13:00; promise error is delivered − predicted at intake (bias > 0: later "
        "than predicted).\n\n" + comparison_table(runs) + "\n"
    )
    written = [out / "rain-comparison.md", out / "rain-comparison.json"]
    written[0].write_text(text, encoding="utf-8")
    written[1].write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    written.append(plot_comparison(runs, out / "rain-comparison.png"))
    return written


def plot_comparison(runs: dict[str, dict], path: Path) -> Path:
    """Left: both shares per run, over the day and in the rain. Right: the worst zone's 30-minute
    on-time share as the operator saw it, with the rain shaded and the switches marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (bars, lines) = plt.subplots(1, 2, figsize=(14, 5.5))
    keys = (
        ("on_time_vs_promise_delivered", "day: vs promise given"),
        ("on_time_vs_30min_delivered", "day: vs plain 30 min"),
        ("rain_on_time_vs_promise", "in the rain: vs promise"),
        ("rain_on_time_vs_30min", "in the rain: vs 30 min"),
    )
    width = 0.2
    for k, (key, label) in enumerate(keys):
        xs = [i + (k - 1.5) * width for i in range(len(runs))]
        bars.bar(xs, [(f[key] or 0.0) * 100 for f in runs.values()], width, label=label)
    bars.set_xticks(range(len(runs)), [
        f"{name}\nrefused {f['refused_over_capacity']}, extended {f['promises_extended']}"
        for name, f in runs.items()
    ])  # fmt: skip
    bars.axhline(OBJECTIVE_PCT, color="#cc3311", linestyle="--", label="SLO 95%")
    bars.set_ylim(50, 101)
    bars.set_ylabel("delivered orders on time (%)")
    bars.set_title("On-time share per run")
    bars.legend(loc="lower left", fontsize=8)
    _plot_console(lines, runs)
    return _save(fig, path)


def _plot_console(ax: Axes, runs: dict[str, dict]) -> None:
    """The worst zone's reading at each glance, per run; a marker where the operator switched."""
    rain = next(iter(runs.values()))["rain"]
    ax.axvspan(rain["from_min"] / 60.0, rain["until_min"] / 60.0, color="#88ccee", alpha=0.3, label="rain")
    styles = ("-", "--", ":")  # the runs are one day until the operator acts: keep each visible
    for k, (name, f) in enumerate(runs.items()):
        worst: dict[float, float] = {}
        for t, _, share in f["operator_readings"]:
            worst[t] = min(worst.get(t, 1.0), share)
        xs, ys = [t / 60.0 for t in worst], [s * 100 for s in worst.values()]
        line = ax.plot(xs, ys, styles[k % len(styles)], linewidth=2.5 - 0.6 * k, label=name)[0]
        for t, _, share, _ in f["operator_switches"]:
            ax.plot(t / 60.0, share * 100, marker="v", markersize=9, color=line.get_color())
    ax.axhline(OBJECTIVE_PCT, color="#cc3311", linestyle="--", label="95%: the operator acts")
    ax.set_xlabel("hours since 10:00")
    ax.set_ylabel("worst zone's on-time share, last 30 min (%)")
    ax.set_title("What the operator saw in the ops summary (▼ switch)")
    ax.legend(loc="lower left", fontsize=8)


def _save(fig: Figure, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
