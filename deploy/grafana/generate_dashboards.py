"""FlashDispatch Grafana dashboards as code (grafana-foundation-sdk, Grafana 11.6).

Run ``.venv/bin/python deploy/grafana/generate_dashboards.py [--out DIR]``: it writes one JSON
file per dashboard into ``deploy/grafana/dashboards/`` (or DIR). The generated JSON is
committed; ``tests/deploy`` checks it is up to date with this file.

Every query reads the service's own metrics (not recording rules), so a dashboard works
against any Prometheus that scrapes the service, with or without ``recording.yml`` loaded.
Zone filters are always ``zone=~"$zone"`` (the variable is multi-value with "All" = ``.*``).
Gauges that every process exports for every zone (in flight, at risk, couriers) are reduced
with ``max by (zone, …)`` before summing, so N replicas are not counted N times.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="prometheus")
SLO_TARGET = 0.95
ERROR_BUDGET = 1 - SLO_TARGET  # 0.05
SLA_SECONDS = 1800

Z = 'zone=~"$zone"'
OUTCOMES = "flashdispatch_order_outcomes_total"
RESOLVED = 'outcome=~"on_time|late|failed"'
BAD = 'outcome=~"late|failed"'
DELIVERY = "flashdispatch_delivery_duration_seconds"
HTTP = "flashdispatch_http_requests_total"
HTTP_DURATION = "flashdispatch_http_request_duration_seconds"
SYNCS = "flashdispatch_stock_syncs_total"


# --- query builders ---------------------------------------------------------------------------


def error_ratio(window: str) -> str:
    """Late-or-failed share of resolved orders in ``$zone`` over ``window`` (0 when none late)."""
    return (
        f"(sum(increase({OUTCOMES}{{{Z},{BAD}}}[{window}])) or vector(0))\n"
        f"  / sum(increase({OUTCOMES}{{{Z},{RESOLVED}}}[{window}]))"
    )


def burn_rate(window: str) -> str:
    """Error ratio over ``window`` divided by the error budget (1 = exactly on budget)."""
    return f"({error_ratio(window)})\n  / {ERROR_BUDGET:.2f}"


def quantile(q: float, metric: str, by: str = "") -> str:
    """histogram_quantile over ``$__rate_interval``, for ``$zone`` when the metric has zones."""
    labels = f"{{{Z}}}" if metric in (DELIVERY, "flashdispatch_dispatch_round_duration_seconds") else ""
    group = f"{by}, le" if by else "le"
    return (
        f"histogram_quantile({q}, sum by ({group}) "
        f"(rate({metric}_bucket{labels}[$__rate_interval])))"
    )


def http_status_ratio(status_regex: str) -> str:
    """Share of requests per route answering ``status_regex`` (0 for routes without any)."""
    total = f"sum by (route) (rate({HTTP}[$__rate_interval]))"
    return (
        f'(sum by (route) (rate({HTTP}{{status=~"{status_regex}"}}[$__rate_interval]))\n'
        f"  or {total} * 0)\n"
        f"  / {total}"
    )


def or_zero(expr: str, label: str) -> str:
    """``expr`` or a single 0 series labelled ``label="none"`` when no series exists yet."""
    return f'{expr}\n  or label_replace(vector(0), "{label}", "none", "", "")'


# --- panel builders ---------------------------------------------------------------------------


class PanelIds:
    """Hands out stable panel ids in the order panels are added."""

    def __init__(self) -> None:
        self._next = 0

    def __call__(self) -> int:
        self._next += 1
        return self._next


def target(
    expr: str, legend: str = "__auto", ref: str = "A", *, instant: bool = False
) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).legend_format(legend).ref_id(ref)
    # Stats over days are instant queries: a range query would re-read 30 days at every step.
    return query.instant() if instant else query.range()


def thresholds(*steps: tuple[float | None, str]) -> db.ThresholdsConfig:
    return (
        db.ThresholdsConfig()
        .mode(dm.ThresholdsMode.ABSOLUTE)
        .steps([dm.Threshold(value=value, color=color) for value, color in steps])
    )


def stat_panel(
    ids: PanelIds,
    title: str,
    expr: str,
    *,
    description: str,
    unit: str,
    steps: list[tuple[float | None, str]],
    decimals: int = 2,
    width: int = 4,
) -> stat.Panel:
    return (
        stat.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(target(expr, legend=title, instant=True))
        .unit(unit)
        .decimals(decimals)
        .thresholds(thresholds(*steps))
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .justify_mode(cm.BigValueJustifyMode.AUTO)
        .text_mode(cm.BigValueTextMode.AUTO)
        .orientation(cm.VizOrientation.AUTO)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        .height(5)
        .span(width)
    )


def series_panel(
    ids: PanelIds,
    title: str,
    targets: list[tuple[str, str]],
    *,
    description: str,
    unit: str,
    width: int = 12,
    stacked: bool = False,
    line_at: tuple[float, str] | None = None,
    min_value: float | None = 0,
    max_value: float | None = None,
) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .id(ids())
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .line_width(1)
        .fill_opacity(25 if stacked else 10)
        .show_points(cm.VisibilityMode.NEVER)
        .legend(
            cb.VizLegendOptions()
            .display_mode(cm.LegendDisplayMode.LIST)
            .placement(cm.LegendPlacement.BOTTOM)
            .show_legend(True)
            .calcs([])
        )
        .tooltip(cb.VizTooltipOptions().mode(cm.TooltipDisplayMode.MULTI).sort(cm.SortOrder.DESCENDING))
        .height(8)
        .span(width)
    )
    for index, (expr, legend) in enumerate(targets):
        panel = panel.with_target(target(expr, legend=legend, ref=chr(ord("A") + index)))
    if stacked:
        panel = panel.stacking(cb.StackingConfig().mode(cm.StackingMode.NORMAL).group("A"))
    if min_value is not None:
        panel = panel.min(min_value)
    if max_value is not None:
        panel = panel.max(max_value)
    if line_at is not None:
        value, color = line_at
        panel = panel.thresholds(thresholds((None, "transparent"), (value, color))).thresholds_style(
            cb.GraphThresholdsStyleConfig().mode(cm.GraphThresholdsStyleMode.LINE)
        )
    else:
        panel = panel.thresholds(thresholds((None, "green")))
    return panel


def zone_variable() -> db.QueryVariable:
    return (
        db.QueryVariable("zone")
        .label("Zone")
        .description("Delivery zone (a shop's area); All = every zone")
        .datasource(DATASOURCE)
        .query("label_values(flashdispatch_orders_placed_total, zone)")
        .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"]))
    )


def base_dashboard(uid: str, title: str, description: str) -> db.Dashboard:
    return (
        db.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["flashdispatch"])
        .editable()
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("30s")
        .tooltip(dm.DashboardCursorSync.CROSSHAIR)
        .with_variable(zone_variable())
        .annotation(
            db.AnnotationQuery()
            .name("Annotations & Alerts")
            .datasource(dm.DataSourceRef(type_val="grafana", uid="-- Grafana --"))
            .enable(True)
            .hide(True)
            .icon_color("rgba(0, 211, 255, 1)")
            .built_in(1)
            .type("dashboard")
        )
        .link(
            db.DashboardLink("FlashDispatch")
            .type(dm.DashboardLinkType.DASHBOARDS)
            .tags(["flashdispatch"])
            .as_dropdown(True)
            .include_vars(True)
            .keep_time(True)
        )
    )


# --- dashboards -------------------------------------------------------------------------------


def slo_dashboard() -> db.Dashboard:
    ids = PanelIds()
    sla_minutes = SLA_SECONDS // 60
    return (
        base_dashboard(
            "flashdispatch-slo",
            "FlashDispatch SLO",
            f"{SLO_TARGET:.0%} of orders delivered within {sla_minutes} minutes: SLI, error "
            "budget, burn rates and delivery times.",
        )
        .with_row(db.Row(f"SLO: {SLO_TARGET:.0%} of orders on time (30 days)").id(ids()))
        .with_panel(
            stat_panel(
                ids,
                "On-time ratio (30 days)",
                f"sum(increase({OUTCOMES}{{{Z},outcome=\"on_time\"}}[30d]))\n"
                f"  / sum(increase({OUTCOMES}{{{Z},{RESOLVED}}}[30d]))",
                description="on_time / (on_time + late + failed) over 30 days; cancelled "
                "orders do not count. Target 95 %.",
                unit="percentunit",
                steps=[(None, "red"), (0.9, "orange"), (SLO_TARGET, "green")],
            )
        )
        .with_panel(
            stat_panel(
                ids,
                "Error budget left (30 days)",
                f"1 - ({error_ratio('30d')}) / {ERROR_BUDGET:.2f}",
                description="Share of the 30-day error budget (5 % of resolved orders late "
                "or failed) not yet spent; negative when overspent.",
                unit="percentunit",
                steps=[(None, "red"), (0.25, "orange"), (0.5, "green")],
            )
        )
        .with_panel(
            stat_panel(
                ids,
                "Burn rate (1 hour)",
                burn_rate("1h"),
                description="Error ratio over 1 hour / 0.05. The fast-burn page fires above "
                "14.4 (with the 5-minute window agreeing and at least 20 resolved orders).",
                unit="none",
                steps=[(None, "green"), (1, "orange"), (6, "red")],
            )
        )
        .with_panel(
            stat_panel(
                ids,
                "Burn rate (6 hours)",
                burn_rate("6h"),
                description="Error ratio over 6 hours / 0.05. The slow-burn page fires above "
                "6 (with the 30-minute window agreeing and at least 60 resolved orders).",
                unit="none",
                steps=[(None, "green"), (1, "orange"), (6, "red")],
            )
        )
        .with_panel(
            stat_panel(
                ids,
                "Burn rate (3 days)",
                burn_rate("3d"),
                description="Error ratio over 3 days / 0.05. A ticket opens above 1 (with "
                "the 6-hour window agreeing and at least 200 resolved orders).",
                unit="none",
                steps=[(None, "green"), (1, "red")],
            )
        )
        .with_panel(
            stat_panel(
                ids,
                "Orders resolved (30 days)",
                f"sum(increase({OUTCOMES}{{{Z},{RESOLVED}}}[30d]))",
                description="Orders with an outcome that counts for the SLI over 30 days.",
                unit="short",
                decimals=0,
                steps=[(None, "blue")],
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Burn rate by window",
                [(burn_rate(w), w) for w in ("5m", "30m", "1h", "6h")],
                description="Error ratio / error budget per alert window (the 3-day one is "
                "the stat above). Pages: 1h and 5m above 14.4; 6h and 30m above 6.",
                unit="none",
                line_at=(14.4, "red"),
            )
        )
        .with_panel(
            series_panel(
                ids,
                "On-time ratio by zone (1 hour window)",
                [
                    (
                        f"(sum by (zone) (increase({OUTCOMES}{{{Z},outcome=\"on_time\"}}[1h]))\n"
                        f"  or sum by (zone) (increase({OUTCOMES}{{{Z},{RESOLVED}}}[1h])) * 0)\n"
                        f"  / sum by (zone) (increase({OUTCOMES}{{{Z},{RESOLVED}}}[1h]))",
                        "{{zone}}",
                    )
                ],
                description="The SLI per zone over a sliding hour, against the 95 % target.",
                unit="percentunit",
                line_at=(SLO_TARGET, "red"),
                min_value=None,
                max_value=1,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "On time: against the promise given vs the plain 30 minutes",
                [
                    (
                        f'sum(increase({OUTCOMES}{{{Z},outcome="on_time"}}[30m]))\n'
                        f"  / sum(increase({OUTCOMES}{{{Z},{RESOLVED}}}[30m]))",
                        "against the promise given",
                    ),
                    (
                        "sum(increase(flashdispatch_delivery_duration_seconds_bucket"
                        f'{{{Z},le=~"1800(\\\\.0)?"}}[30m]))\n'
                        f"  / sum(increase({OUTCOMES}{{{Z},{RESOLVED}}}[30m]))",
                        "within the plain 30 minutes",
                    ),
                ],
                description="An extended promise can never hide a miss: the second line counts only "
                "deliveries within 30 minutes of the click.",
                unit="percentunit",
                line_at=(SLO_TARGET, "red"),
            )
        )
        .with_row(db.Row(f"Delivery time against the {sla_minutes}-minute promise").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Click-to-door time quantiles",
                [
                    (quantile(0.5, DELIVERY), "p50"),
                    (quantile(0.9, DELIVERY), "p90"),
                    (quantile(0.99, DELIVERY), "p99"),
                ],
                description=f"Delivered orders' placed-to-delivered time; the red line is the "
                f"{sla_minutes}-minute promise.",
                unit="s",
                line_at=(SLA_SECONDS, "red"),
            )
        )
        .with_panel(
            series_panel(
                ids,
                f"Delivered within {sla_minutes} minutes",
                [
                    (
                        f'sum(rate({DELIVERY}_bucket{{{Z},le="{SLA_SECONDS}.0"}}[$__rate_interval]))\n'
                        f"  / sum(rate({DELIVERY}_count{{{Z}}}[$__rate_interval]))",
                        "share delivered in time",
                    )
                ],
                description="Share of deliveries completed within the promise (histogram bucket "
                "le=1800.0). Late orders never delivered are not here: see outcomes.",
                unit="percentunit",
                line_at=(SLO_TARGET, "red"),
                max_value=1,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Order outcomes",
                [(f"sum by (outcome) (rate({OUTCOMES}{{{Z}}}[$__rate_interval]))", "{{outcome}}")],
                description="Outcomes per second: on_time, late (counted at the promise), "
                "cancelled, failed.",
                unit="reqps",
                stacked=True,
                width=24,
            )
        )
    )


def operations_dashboard() -> db.Dashboard:
    ids = PanelIds()
    round_metric = "flashdispatch_dispatch_round_duration_seconds"
    return (
        base_dashboard(
            "flashdispatch-operations",
            "FlashDispatch operations",
            "Orders, backlog by stage, orders at risk, couriers and the dispatch loop.",
        )
        .with_row(db.Row("Orders and backlog").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Orders placed",
                [
                    (
                        f"sum by (zone) (rate(flashdispatch_orders_placed_total{{{Z}}}[$__rate_interval]))",
                        "{{zone}}",
                    )
                ],
                description="Orders accepted per second, by zone.",
                unit="reqps",
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Orders rejected",
                [
                    (
                        or_zero(
                            "sum by (reason) "
                            "(rate(flashdispatch_order_rejections_total[$__rate_interval]))",
                            "reason",
                        ),
                        "{{reason}}",
                    )
                ],
                description="Orders refused at intake per second: out_of_stock, out_of_area "
                "(all zones: a refused order has no zone).",
                unit="reqps",
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Backlog by stage",
                [
                    (
                        "sum by (stage) "
                        f"(max by (zone, stage) (flashdispatch_orders_in_flight{{{Z}}}))",
                        "{{stage}}",
                    )
                ],
                description="Open orders: reserved (waiting for a courier), assigned (courier "
                "on the way to the shop), picked_up (on the road to the customer).",
                unit="short",
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Orders at risk",
                [
                    (
                        f"sum by (zone) (max by (zone) (flashdispatch_orders_at_risk{{{Z}}}))",
                        "{{zone}}",
                    )
                ],
                description="Open orders predicted to arrive after their promise.",
                unit="short",
            )
        )
        .with_row(db.Row("Couriers").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Couriers by state",
                [
                    (
                        "sum by (state) "
                        f"(max by (zone, state) (flashdispatch_couriers{{{Z}}}))",
                        "{{state}}",
                    )
                ],
                description="Couriers off shift, idle (on shift, no task) and busy.",
                unit="short",
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Idle couriers by zone",
                [
                    (
                        f'max by (zone) (flashdispatch_couriers{{{Z},state="idle"}})',
                        "{{zone}}",
                    )
                ],
                description="A zone with orders at risk and no idle courier needs couriers.",
                unit="short",
            )
        )
        .with_row(db.Row("Dispatch loop").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Dispatch round time",
                [
                    (quantile(0.5, round_metric), "p50"),
                    (quantile(0.99, round_metric), "p99"),
                ],
                description="Time one dispatch round takes (engine + writes), across the "
                "selected zones.",
                unit="s",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Rounds and assignments",
                [
                    (
                        f"sum(rate(flashdispatch_dispatch_rounds_total{{{Z}}}[$__rate_interval]))",
                        "rounds/s",
                    ),
                    (
                        f"sum(rate(flashdispatch_assignments_total{{{Z}}}[$__rate_interval]))",
                        "assignments/s",
                    ),
                ],
                description="Completed dispatch rounds and courier assignments per second.",
                unit="reqps",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Seconds since the last round",
                [
                    (
                        "time() - max by (zone) "
                        f"(flashdispatch_dispatch_last_round_timestamp_seconds{{{Z}}})",
                        "{{zone}}",
                    )
                ],
                description="Age of the last completed round per zone (freshest across "
                "dispatchers). Above 60 s with orders in flight pages "
                "(FlashDispatchDispatchLoopStalled).",
                unit="s",
                width=8,
                line_at=(60, "red"),
            )
        )
        .with_row(db.Row("Operators and the promise").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Operator actions",
                [
                    (
                        "sum by (action) (increase(flashdispatch_operator_actions_total[$__rate_interval]))",
                        "{{action}}",
                    )
                ],
                description="Holds, releases, reassignments, store statuses and zone modes set (each "
                "audited in the order's events or operator_actions).",
                unit="short",
                width=8,
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Stores by status",
                [("max by (status) (flashdispatch_stores)", "{{status}}")],
                description="Online, busy (packing slower by its extra minutes) and paused (no new order).",
                unit="short",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Zone modes",
                [
                    (
                        "max by (zone, setting) "
                        f'(flashdispatch_zone_mode{{{Z},setting=~"closed|on_overload_.*"}})',
                        "{{zone}} {{setting}}",
                    ),
                    (
                        f'max by (zone) (flashdispatch_zone_mode{{{Z},setting="radius_factor"}})',
                        "{{zone}} radius",
                    ),
                ],
                description="Per zone: closed (1), on_overload extend/refuse (1), and the radius factor "
                "(1 = normal).",
                unit="short",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Promise error (delivered - predicted at intake)",
                [
                    (
                        "histogram_quantile(0.5, sum by (le) (rate(flashdispatch_promise_error_seconds_bucket"
                        f"{{{Z}}}[$__rate_interval])))",
                        "p50",
                    ),
                    (
                        "histogram_quantile(0.9, sum by (le) (rate(flashdispatch_promise_error_seconds_bucket"
                        f"{{{Z}}}[$__rate_interval])))",
                        "p90",
                    ),
                ],
                description="How honest intake's prediction is: positive when orders arrive later than "
                "said. Buckets from -20 to +20 minutes.",
                unit="s",
                min_value=None,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Orders whose promise was extended",
                [
                    (
                        f"sum by (zone) (increase(flashdispatch_orders_promise_extended_total{{{Z}}}[30m]))\n"
                        f"  / sum by (zone) (increase(flashdispatch_orders_placed_total{{{Z}}}[30m]))",
                        "{{zone}}",
                    )
                ],
                description="Share of placed orders (30 min) whose promise an overloaded zone extended: "
                "how much of the SLI rests on extensions.",
                unit="percentunit",
            )
        )
        .with_row(db.Row("Webhook delivery").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Webhook outbox lag",
                [("max(flashdispatch_webhook_outbox_lag_seconds)", "oldest undelivered event")],
                description="Age of the oldest order event not yet delivered to an active webhook "
                "endpoint. Above 5 minutes pages (FlashDispatchWebhookLag).",
                unit="s",
                width=8,
                line_at=(300, "red"),
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Webhook deliveries by result",
                [
                    (
                        "sum by (result) (rate(flashdispatch_webhook_deliveries_total[$__rate_interval]))",
                        "{{result}}",
                    )
                ],
                description="Delivery attempts per second: delivered (2xx), retry (failed, "
                "another attempt scheduled), failed (schedule used up), gone (410: endpoint disabled).",
                unit="reqps",
                width=8,
                stacked=True,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Webhook endpoints",
                [("max by (state) (flashdispatch_webhook_endpoints)", "{{state}}")],
                description="Registered webhook endpoints by state; disabled ones answered 410 Gone.",
                unit="short",
                width=8,
            )
        )
    )


def api_dashboard() -> db.Dashboard:
    ids = PanelIds()
    return (
        base_dashboard(
            "flashdispatch-api",
            "FlashDispatch API and stock",
            "HTTP RED by route, stock syncs and reservations, database pool.",
        )
        .with_row(db.Row("API: rate, errors, duration").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Requests by route",
                [(f"sum by (route) (rate({HTTP}[$__rate_interval]))", "{{route}}")],
                description="HTTP requests per second by route template.",
                unit="reqps",
                stacked=True,
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "5xx ratio by route",
                [(http_status_ratio("5.."), "{{route}}")],
                description="Share of requests answering 5xx. Above 5 % for 5 minutes "
                "pages (FlashDispatchApiErrors).",
                unit="percentunit",
                width=8,
                line_at=(0.05, "red"),
            )
        )
        .with_panel(
            series_panel(
                ids,
                "4xx ratio by route",
                [(http_status_ratio("4.."), "{{route}}")],
                description="Share of requests refused as bad input, unauthorized or not "
                "found; a jump usually follows a client release.",
                unit="percentunit",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Request duration p99 by route",
                [(quantile(0.99, HTTP_DURATION, by="route"), "{{route}}")],
                description="99th percentile of server-side request time by route.",
                unit="s",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Request duration p50 by route",
                [(quantile(0.5, HTTP_DURATION, by="route"), "{{route}}")],
                description="Median server-side request time by route.",
                unit="s",
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Unhandled errors",
                [
                    (
                        "sum(increase(flashdispatch_http_unhandled_errors_total[$__rate_interval]))",
                        "unhandled",
                    )
                ],
                description="Requests that ended in an unhandled exception; never expected.",
                unit="short",
                width=8,
            )
        )
        .with_row(db.Row("Stock").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Stock syncs by kind and result",
                [(f"sum by (kind, result) (rate({SYNCS}[$__rate_interval]))", "{{kind}} {{result}}")],
                description="Snapshots and deltas per second: applied, stale (older "
                "version, ignored), rejected (invalid).",
                unit="reqps",
                stacked=True,
                width=8,
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Rejected stock syncs",
                [
                    (
                        f'(sum(rate({SYNCS}{{result="rejected"}}[$__rate_interval])) or vector(0))\n'
                        f"  / sum(rate({SYNCS}[$__rate_interval]))",
                        "rejected share",
                    )
                ],
                description="Share of syncs rejected. Above 10 % over 15 minutes opens a "
                "ticket (FlashDispatchStockSyncRejections).",
                unit="percentunit",
                width=8,
                line_at=(0.10, "red"),
            )
        )
        .with_panel(
            series_panel(
                ids,
                "Shortfalls and reservation failures",
                [
                    (
                        "sum by (zone) (increase(flashdispatch_stock_shortfalls_total"
                        f"{{{Z}}}[$__rate_interval]))",
                        "shortfall {{zone}}",
                    ),
                    (
                        or_zero(
                            "sum by (reason) (increase("
                            "flashdispatch_reservation_failures_total[$__rate_interval]))",
                            "reason",
                        ),
                        "reservation failed: {{reason}}",
                    ),
                ],
                description="Shortfalls: a sync dropped on-hand below what is reserved. "
                "Reservation failures: race_lost, out_of_stock.",
                unit="short",
                width=8,
            )
        )
        .with_row(db.Row("Database").id(ids()))
        .with_panel(
            series_panel(
                ids,
                "Connection pool by state",
                [
                    (
                        "sum by (instance, state) (flashdispatch_db_pool_connections)",
                        "{{instance}} {{state}}",
                    )
                ],
                description="asyncpg pool per process: in_use, idle and max. in_use at max "
                "means requests queue for a connection (and may answer 503).",
                unit="short",
                width=24,
            )
        )
    )


DASHBOARDS: dict[str, Callable[[], db.Dashboard]] = {
    "flashdispatch-slo.json": slo_dashboard,
    "flashdispatch-operations.json": operations_dashboard,
    "flashdispatch-api.json": api_dashboard,
}


def render(builder: db.Dashboard) -> str:
    """The dashboard as stable, sorted JSON text."""
    data: Any = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_dashboards(out_dir: Path) -> list[Path]:
    """Write every dashboard into ``out_dir``; return the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, build in DASHBOARDS.items():
        path = out_dir / name
        path.write_text(render(build()), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DASHBOARDS_DIR, help="output folder")
    args = parser.parse_args(argv)
    for path in write_dashboards(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
