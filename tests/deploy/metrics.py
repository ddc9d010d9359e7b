"""The service's metric names, read from the service's own metrics (dispatch/metrics.py), and a
PromQL metric-name extractor for checks."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from dispatch.metrics import Metrics

_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


def service_metric_names() -> set[str]:
    """Every series name the service exposes (a counter's ``_created`` aside)."""
    registry = CollectorRegistry()
    Metrics(registry)
    return {family.name + suffix for family in registry.collect() for suffix in _SUFFIXES[family.type]}


KNOWN_METRICS = service_metric_names()

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
