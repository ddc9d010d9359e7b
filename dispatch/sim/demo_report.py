"""The demo's SLA report: figures printed and written, and the charts people look at (PNG)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dispatch.orders.sla import sli
from dispatch.sim.city import City
from dispatch.sim.demo_runner import DemoResult, Sample
from dispatch.sim.order_system import OrderRecord
from geo.network import RoadNetwork

if TYPE_CHECKING:
    from matplotlib.figure import Figure

SLA_S = 1800.0


def _on_time(record: OrderRecord) -> bool:
    return (ctd := record.click_to_door_s) is not None and ctd <= SLA_S


def _late(record: OrderRecord) -> bool:
    return (ctd := record.click_to_door_s) is not None and ctd > SLA_S


def summarize(result: DemoResult, *, sla_s: float = SLA_S) -> dict:
    """Figures of the day, from the simulator's own records and the service's summary."""
    records = list(result.records.values())
    placed = [r for r in records if r.status == 201]
    delivered = [r for r in placed if r.delivered_s is not None]
    ctd = np.array([s for r in delivered if (s := r.click_to_door_s) is not None]) / 60.0
    outcomes: Counter[str] = Counter()
    backlog_by_status: Counter[str] = Counter()
    for zone in result.summary.get("zones", {}).values():
        outcomes.update(zone.get("outcomes", {}))
        backlog_by_status.update(
            {k: v for k, v in zone.get("orders", {}).items() if k in ("reserved", "assigned", "picked_up")}
        )
    share = sli(outcomes)
    shift_h = sum(max(0.0, result.end_s - c.plan.shift_start_s) for c in result.couriers.values()) / 3600.0
    busy_h = sum(c.busy_s for c in result.couriers.values()) / 3600.0
    per_store = Counter(r.store_id for r in placed)

    def pct(q: float) -> float | None:
        return round(float(np.percentile(ctd, q)), 1) if len(ctd) else None

    accounted = outcomes["on_time"] + outcomes["late"] + outcomes["cancelled"] + outcomes["failed"]
    return {
        **promise_figures(delivered),
        **assigned_eta_figures(delivered),
        **shelf_figures(placed),
        "orders_requested": len(records),
        "orders_placed": len(placed),
        "refused_out_of_stock": sum(1 for r in records if r.status == 409 and r.refusal != "over_capacity"),
        "refused_over_capacity": sum(1 for r in records if r.refusal == "over_capacity"),
        "promises_extended": sum(1 for r in placed if r.extension_min),
        "promise_minutes_added": sum(r.extension_min for r in placed),
        "refused_out_of_area": sum(1 for r in records if r.status == 422),
        "delivered": len(delivered),
        "cancelled": outcomes["cancelled"],
        "on_time": outcomes["on_time"],
        "late": outcomes["late"],
        "failed": outcomes["failed"],
        "failure_reasons": result.summary.get("failure_reasons", {}),
        "on_time_share": round(share, 4) if share is not None else None,
        "delivery_min_p50": pct(50),
        "delivery_min_p90": pct(90),
        "delivery_min_p99": pct(99),
        "delivery_min_mean": round(float(ctd.mean()), 1) if len(ctd) else None,
        "open_after_drain": sum(backlog_by_status.values()),
        "all_accounted": accounted == len(placed) and sum(backlog_by_status.values()) == 0,
        "courier_utilization": round(busy_h / shift_h, 3) if shift_h else None,
        "orders_per_courier_hour": round(len(delivered) / shift_h, 2) if shift_h else None,
        "rejected_tasks": result.rejected_tasks,
        "courier_repositions": result.repositions,
        "stock_syncs": result.stock_syncs,
        "stores_used": len(per_store),
        "store_share_top5": [(s, n) for s, n in per_store.most_common(5)],
        "store_orders_min_max": [min(per_store.values()), max(per_store.values())] if per_store else None,
        "simulated_minutes": round(result.end_s / 60.0, 1),
        "wall_seconds": round(result.wall_s, 1),
        "http_requests": result.requests,
    }


def promise_figures(delivered: list[OrderRecord]) -> dict:
    """How honest intake's prediction was (delivered − predicted at intake, minutes), and the
    on-time share against the promise each order was given."""
    pairs = [
        (r.delivered_s, r.predicted_s, r.promised_s)
        for r in delivered
        if r.delivered_s is not None and r.predicted_s is not None and r.promised_s is not None
    ]
    if not pairs:
        return {
            "promise_error_min_p50": None,
            "promise_error_min_p90": None,
            "promise_error_min_bias": None,
            "on_time_vs_promise": None,
            "on_time_vs_30min": None,
        }
    error = np.array([d - p for d, p, _ in pairs]) / 60.0
    kept = sum(1 for d, _, promised in pairs if d <= promised)
    within = sum(1 for r in delivered if (ctd := r.click_to_door_s) is not None and ctd <= SLA_S)
    return {
        "promise_error_min_p50": round(float(np.percentile(np.abs(error), 50)), 2),
        "promise_error_min_p90": round(float(np.percentile(np.abs(error), 90)), 2),
        "promise_error_min_bias": round(float(error.mean()), 2),
        "on_time_vs_promise": round(kept / len(pairs), 4),
        "on_time_vs_30min": round(within / len(delivered), 4),  # an extension never hides a miss here
    }


def shelf_figures(placed: list[OrderRecord]) -> dict:
    """Shelf truth over the day: splits at intake, short picks and what became of them, and how
    the orders with a re-sourced leg kept their promise."""
    resourced = [r for r in placed if r.legs_added]
    judged = [(r.delivered_s, r.promised_s) for r in resourced if r.delivered_s is not None and r.promised_s]
    kept = sum(1 for delivered, promised in judged if delivered <= promised)
    return {
        "orders_split": sum(1 for r in placed if r.split),
        "short_picks": sum(r.short_picks for r in placed),
        "legs_added": sum(r.legs_added for r in placed),
        "lines_dropped": sum(r.lines_dropped for r in placed),
        "resourced_orders_delivered": len(judged),
        "resourced_on_time_vs_promise": round(kept / len(judged), 4) if judged else None,
    }


def format_report(figures: dict) -> str:
    lines = [
        "FlashDispatch demo — SLA report",
        "=" * 48,
        f"orders requested        {figures['orders_requested']:>8}",
        f"orders placed (201)     {figures['orders_placed']:>8}",
        f"  refused: out of stock {figures['refused_out_of_stock']:>8}",
        f"  refused: out of area  {figures['refused_out_of_area']:>8}",
        f"  refused: over capacity{figures['refused_over_capacity']:>8}",
        f"promises extended       {figures['promises_extended']:>8}"
        f"   ({figures['promise_minutes_added']} min added)",
        f"delivered               {figures['delivered']:>8}",
        f"on time / late          {figures['on_time']:>5} / {figures['late']}",
        f"cancelled / failed      {figures['cancelled']:>5} / {figures['failed']}",
        f"on-time share (SLI)     {_pct(figures['on_time_share']):>8}   (SLO 95%)",
        f"delivery p50/p90/p99    {figures['delivery_min_p50']} / {figures['delivery_min_p90']} / "
        f"{figures['delivery_min_p99']} min",
        f"promise kept (as given) {_pct(figures['on_time_vs_promise']):>8}"
        f"   within plain 30 min {_pct(figures['on_time_vs_30min'])}",
        _promise_error_line(figures),
        *_assigned_eta_line(figures),
        f"courier utilization     {_pct(figures['courier_utilization']):>8}",
        f"orders / courier-hour   {figures['orders_per_courier_hour']:>8}",
        f"orders split (2 shops)  {figures['orders_split']:>8}",
        f"short picks             {figures['short_picks']:>8}   legs added {figures['legs_added']},"
        f" lines dropped {figures['lines_dropped']}",
        f"  re-sourced, promise kept {_pct(figures['resourced_on_time_vs_promise']):>5}"
        f"   ({figures['resourced_orders_delivered']} delivered)",
        f"tasks rejected          {figures['rejected_tasks']:>8}",
        f"courier repositions     {figures['courier_repositions']:>8}",
        f"stock syncs             {figures['stock_syncs']:>8}",
        f"stores used             {figures['stores_used']:>8}   orders per store min/max "
        f"{figures['store_orders_min_max']}",
        f"every order accounted   {'yes' if figures['all_accounted'] else 'NO'}"
        f"   (open after drain: {figures['open_after_drain']})",
        f"simulated {figures['simulated_minutes']} min in {figures['wall_seconds']} s wall, "
        f"{figures['http_requests']} HTTP requests",
    ]
    if "webhook_events_received" in figures:
        lines += [
            f"webhook events received {figures['webhook_events_received']:>8}"
            "   (the receiver verifies each with standardwebhooks)",
            f"  duplicates            {figures['webhook_duplicates']:>8}",
            f"  signature failures    {figures['webhook_signature_failures']:>8}",
            f"  max lag               {figures['webhook_max_lag_s']:>8} s (simulated)",
        ]
    if figures["failure_reasons"]:
        lines.append(
            "failure reasons: " + ", ".join(f"{k}: {v}" for k, v in figures["failure_reasons"].items())
        )
    return "\n".join(lines)


def assigned_eta_figures(delivered: list[OrderRecord]) -> dict:
    """How honest the time a courier's task plans is (delivered − planned when the courier took
    the route; for an order of several legs, its last planned drop-off): what the tracking page
    and the courier show once an order is on a route, next to intake's prediction."""
    error = np.array([
        r.delivered_s - max(r.planned_on_route_s[u] for u in r.legs)
        for r in delivered
        if r.delivered_s is not None and r.legs and all(u in r.planned_on_route_s for u in r.legs)
    ]) / 60.0  # fmt: skip
    if not len(error):
        return {"assigned_eta_error_min_p50": None, "assigned_eta_error_min_p90": None,
                "assigned_eta_error_min_bias": None}
    return {
        "assigned_eta_error_min_p50": round(float(np.percentile(np.abs(error), 50)), 2),
        "assigned_eta_error_min_p90": round(float(np.percentile(np.abs(error), 90)), 2),
        "assigned_eta_error_min_bias": round(float(error.mean()), 2),
    }


def _promise_error_line(figures: dict) -> str:
    if figures["promise_error_min_bias"] is None:
        return "promise error           n/a"
    return (
        f"promise error |p50|/|p90|/bias  {figures['promise_error_min_p50']} / "
        f"{figures['promise_error_min_p90']} / {figures['promise_error_min_bias']:+} min"
        "   (delivered − predicted at intake)"
    )


def _assigned_eta_line(figures: dict) -> list[str]:
    """The ETA once on a route, under intake's (no line when no order was tracked on a route)."""
    if figures.get("assigned_eta_error_min_bias") is None:
        return []
    return [
        f"  once on a route       {figures['assigned_eta_error_min_p50']} / "
        f"{figures['assigned_eta_error_min_p90']} / {figures['assigned_eta_error_min_bias']:+} min"
        "   (delivered − the courier's planned drop-off)"
    ]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%"


def write_report(
    result: DemoResult, figures: dict, out: Path, *, network: RoadNetwork, city: City
) -> list[Path]:
    """Write report.txt, report.json and the four charts; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")

    out.mkdir(parents=True, exist_ok=True)
    written = []
    (out / "report.txt").write_text(format_report(figures) + "\n", encoding="utf-8")
    (out / "report.json").write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    written += [out / "report.txt", out / "report.json"]
    placed = [r for r in result.records.values() if r.status == 201]
    delivered = [r for r in placed if r.delivered_s is not None]
    written.append(_plot_delivery_times(delivered, out / "delivery_times.png"))
    written.append(_plot_on_time_share(placed, delivered, out / "on_time_share.png", city=city))
    written.append(_plot_backlog(result.samples, out / "backlog.png"))
    written.append(_plot_map(delivered, out / "map.png", network=network, city=city))
    return written


def _plot_delivery_times(delivered: list[OrderRecord], path: Path) -> Path:
    """Histogram of click-to-door minutes against the 30-minute promise."""
    import matplotlib.pyplot as plt

    ctd = np.array([s for r in delivered if (s := r.click_to_door_s) is not None]) / 60.0
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.hist(ctd, bins=np.arange(0, max(60, (ctd.max() if len(ctd) else 0) + 2), 2).tolist(), color="#4477aa")
    ax.axvline(30, color="#cc3311", linewidth=2, label="30-minute promise")
    ax.set_xlabel("click-to-door (minutes)")
    ax.set_ylabel("orders")
    ax.set_title("Delivery time distribution")
    ax.legend()
    return _save(fig, path)


def _plot_on_time_share(
    placed: list[OrderRecord], delivered: list[OrderRecord], path: Path, *, city: City
) -> Path:
    """On-time share of the orders placed in each quarter hour, over the day."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    bucket = 15 * 60
    end = max((r.placed_s for r in placed if r.placed_s is not None), default=0)
    edges = np.arange(0, end + bucket, bucket)
    shares, counts = [], []
    for lo in edges:
        batch = [r for r in delivered if r.placed_s is not None and lo <= r.placed_s < lo + bucket]
        counts.append(len(batch))
        shares.append(sum(1 for r in batch if _on_time(r)) / len(batch) if batch else np.nan)
    hours = [(city.config.peak_start_min * 0 + e / 3600.0) for e in edges]
    ax.plot(hours, np.array(shares) * 100, marker="o", color="#228833", label="on time (%)")
    ax.axhline(95, color="#cc3311", linestyle="--", label="SLO 95%")
    ax.set_ylim(0, 105)
    ax.set_xlabel("hours since 10:00")
    ax.set_ylabel("on-time share of orders placed (%)")
    twin = ax.twinx()
    twin.bar(hours, counts, width=0.2, alpha=0.25, color="#4477aa", label="orders delivered")
    twin.set_ylabel("orders per 15 min")
    ax.set_title("On-time share over the simulated day")
    ax.legend(loc="lower left")
    return _save(fig, path)


def _plot_backlog(samples: list[Sample], path: Path) -> Path:
    """Open orders, busy couriers and couriers on shift over the day."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    t = [s.t_s / 3600.0 for s in samples]
    ax.plot(t, [s.open_orders for s in samples], label="open orders", color="#4477aa")
    ax.plot(t, [s.busy_couriers for s in samples], label="busy couriers", color="#ee7733")
    ax.plot(t, [s.on_shift for s in samples], label="couriers on shift", color="#bbbbbb")
    ax.set_xlabel("hours since 10:00")
    ax.set_title("Backlog and couriers over time")
    ax.legend()
    return _save(fig, path)


def _plot_map(delivered: list[OrderRecord], path: Path, *, network: RoadNetwork, city: City) -> Path:
    """The road network, the shops, and every delivery on time or late."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 8))
    for u, v in network.graph.edges():
        ax.plot(
            [network.lon[u], network.lon[v]], [network.lat[u], network.lat[v]], color="#dddddd", linewidth=0.5
        )
    on_time = [r for r in delivered if _on_time(r)]
    late = [r for r in delivered if _late(r)]
    ax.scatter(
        [r.plan.lon for r in on_time],
        [r.plan.lat for r in on_time],
        s=3,
        color="#4477aa",
        label=f"delivered on time ({len(on_time)})",
    )
    ax.scatter(
        [r.plan.lon for r in late],
        [r.plan.lat for r in late],
        s=8,
        color="#ee7733",
        label=f"delivered late ({len(late)})",
    )
    ax.scatter(
        [s.lon for s in city.shops],
        [s.lat for s in city.shops],
        s=40,
        marker="s",
        color="#cc3311",
        label="shops",
    )
    ax.set_aspect(1 / np.cos(np.radians(float(np.mean(network.lat)))))
    ax.set_title("Shops and delivered orders — map data © OpenStreetMap contributors (ODbL)")
    ax.legend(loc="upper right", fontsize=8)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def _save(fig: Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path
