"""The service's metric names (DESIGN.md §9) and a PromQL metric-name extractor for checks."""

from __future__ import annotations

import re

_BASE = {
    "flashdispatch_orders_placed_total",
    "flashdispatch_order_outcomes_total",
    "flashdispatch_order_rejections_total",
    "flashdispatch_orders_in_flight",
    "flashdispatch_orders_at_risk",
    "flashdispatch_couriers",
    "flashdispatch_dispatch_rounds_total",
    "flashdispatch_dispatch_last_round_timestamp_seconds",
    "flashdispatch_assignments_total",
    "flashdispatch_stock_syncs_total",
    "flashdispatch_stock_shortfalls_total",
    "flashdispatch_reservation_failures_total",
    "flashdispatch_http_requests_total",
    "flashdispatch_http_unhandled_errors_total",
    "flashdispatch_db_pool_connections",
    "flashdispatch_webhook_deliveries_total",
    "flashdispatch_webhook_outbox_lag_seconds",
    "flashdispatch_webhook_endpoints",
}
_HISTOGRAMS = {
    "flashdispatch_delivery_duration_seconds",
    "flashdispatch_dispatch_round_duration_seconds",
    "flashdispatch_http_request_duration_seconds",
}
KNOWN_METRICS = _BASE | {f"{h}{suffix}" for h in _HISTOGRAMS for suffix in ("_bucket", "_count", "_sum")}

_FUNCTIONS_AND_KEYWORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "and", "or", "unless", "rate", "irate", "increase", "histogram_quantile",
    "time", "vector", "label_replace", "sum_over_time", "avg_over_time", "max_over_time",
    "min_over_time", "count_over_time", "absent", "clamp_min", "clamp_max", "offset", "bool",
    "topk", "bottomk", "delta", "deriv", "abs", "scalar", "humanizePercentage",
}


def metric_names(expr: str) -> set[str]:
    """Metric and recording-rule names a PromQL expression selects."""
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', expr)  # drop string literals (label values)
    text = re.sub(r"\{[^}]*\}", "{}", text)  # drop matchers (label names)
    text = re.sub(r"\[[^\]]*\]", "[]", text)  # drop range durations
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text))
    return {
        name for name in names
        if name not in _FUNCTIONS_AND_KEYWORDS and not re.fullmatch(r"\d+[smhdwy]?|e", name)
    }
