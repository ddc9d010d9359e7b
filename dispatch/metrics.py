"""Prometheus metrics of one app, built on a given registry (never the global one)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

DELIVERY_BUCKETS_S = (300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3600, 5400, 7200)
ROUND_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
HTTP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

OUTCOMES = ("on_time", "late", "cancelled", "failed")
STAGES = ("reserved", "assigned", "picked_up")
COURIER_STATES = ("off", "idle", "busy")
WEBHOOK_RESULTS = ("delivered", "retry", "failed", "gone")
WEBHOOK_STATES = ("active", "disabled")


class Metrics:
    """Every metric of the service; also the observer port the domain code reports to."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._zones: set[str] = set()
        self._http_children: dict[tuple[str, str, int], tuple] = {}
        self._placed_children: dict[str, Counter] = {}
        p = "flashdispatch_"
        self.orders_placed = Counter(
            p + "orders_placed", "Orders accepted (201).", ["zone"], registry=registry
        )
        self.order_outcomes = Counter(
            p + "order_outcomes",
            "Each order's SLA outcome, counted exactly once (late at its deadline).",
            ["zone", "outcome"],
            registry=registry,
        )
        self.order_rejections = Counter(
            p + "order_rejections", "Orders refused, by reason.", ["reason"], registry=registry
        )
        self.delivery_duration = Histogram(
            p + "delivery_duration_seconds",
            "Click-to-door time of delivered orders.",
            ["zone"],
            buckets=DELIVERY_BUCKETS_S,
            registry=registry,
        )
        self.orders_in_flight = Gauge(
            p + "orders_in_flight", "Open orders by stage.", ["zone", "stage"], registry=registry
        )
        self.orders_at_risk = Gauge(
            p + "orders_at_risk", "Open orders predicted past their promise.", ["zone"], registry=registry
        )
        self.couriers = Gauge(p + "couriers", "Couriers by state.", ["zone", "state"], registry=registry)
        self.round_duration = Histogram(
            p + "dispatch_round_duration_seconds",
            "Time of one dispatch round.",
            ["zone"],
            buckets=ROUND_BUCKETS_S,
            registry=registry,
        )
        self.rounds = Counter(p + "dispatch_rounds", "Dispatch rounds run.", ["zone"], registry=registry)
        self.last_round = Gauge(
            p + "dispatch_last_round_timestamp_seconds",
            "Unix time of the last completed dispatch round.",
            ["zone"],
            registry=registry,
        )
        self.assignments = Counter(
            p + "assignments", "Routes committed to couriers.", ["zone"], registry=registry
        )
        self.stock_syncs = Counter(
            p + "stock_syncs", "Stock syncs by kind and result.", ["kind", "result"], registry=registry
        )
        self.stock_shortfalls = Counter(
            p + "stock_shortfalls",
            "Times a sync left on-hand below reserved for a SKU.",
            ["zone"],
            registry=registry,
        )
        self.reservation_failures = Counter(
            p + "reservation_failures", "Reservations that failed.", ["reason"], registry=registry
        )
        self.http_requests = Counter(
            p + "http_requests", "HTTP requests.", ["method", "route", "status"], registry=registry
        )
        self.http_duration = Histogram(
            p + "http_request_duration_seconds",
            "HTTP request latency.",
            ["method", "route"],
            buckets=HTTP_BUCKETS_S,
            registry=registry,
        )
        self.http_unhandled = Counter(
            p + "http_unhandled_errors", "Requests that ended in an unexpected exception.", registry=registry
        )
        self.db_pool = Gauge(
            p + "db_pool_connections", "Database pool connections.", ["state"], registry=registry
        )
        self.webhook_deliveries = Counter(
            p + "webhook_deliveries",
            "Webhook delivery attempts by result (delivered, retry, failed, gone).",
            ["result"],
            registry=registry,
        )
        self.webhook_lag_gauge = Gauge(
            p + "webhook_outbox_lag_seconds",
            "Age of the oldest event not yet delivered to an active webhook endpoint.",
            registry=registry,
        )
        self.webhook_endpoints_gauge = Gauge(
            p + "webhook_endpoints", "Webhook endpoints by state.", ["state"], registry=registry
        )
        for result in WEBHOOK_RESULTS:
            self.webhook_deliveries.labels(result)
        for state in WEBHOOK_STATES:
            self.webhook_endpoints_gauge.labels(state)
        for kind in ("snapshot", "delta"):
            for result in ("applied", "stale", "rejected"):
                self.stock_syncs.labels(kind, result)
        for reason in ("out_of_stock", "out_of_area"):
            self.order_rejections.labels(reason)
        for reason in ("race_lost", "out_of_stock"):
            self.reservation_failures.labels(reason)
        for state in ("in_use", "idle", "max"):
            self.db_pool.labels(state)

    def ensure_zone(self, zone: str) -> None:
        """Create every per-zone series at zero so dashboards see zeros, not gaps."""
        if zone in self._zones:
            return
        self._zones.add(zone)
        self.orders_placed.labels(zone)
        for outcome in OUTCOMES:
            self.order_outcomes.labels(zone, outcome)
        self.delivery_duration.labels(zone)
        for stage in STAGES:
            self.orders_in_flight.labels(zone, stage)
        self.orders_at_risk.labels(zone)
        for state in COURIER_STATES:
            self.couriers.labels(zone, state)
        self.round_duration.labels(zone)
        self.rounds.labels(zone)
        self.last_round.labels(zone)
        self.assignments.labels(zone)
        self.stock_shortfalls.labels(zone)

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """RED metrics of one request. Label children are cached: ``labels()`` costs ~20 µs."""
        key = (method, route, status)
        children = self._http_children.get(key)
        if children is None:
            if len(self._http_children) > 10_000:  # bounded labels make this unreachable
                self._http_children.clear()
            children = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(method, route),
            )
            self._http_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    # observer port -------------------------------------------------------------------------
    def order_placed(self, zone: str) -> None:
        child = self._placed_children.get(zone)
        if child is None:
            self.ensure_zone(zone)
            child = self._placed_children[zone] = self.orders_placed.labels(zone)
        child.inc()

    def outcome(self, zone: str, outcome: str, delivery_s: float | None = None) -> None:
        self.ensure_zone(zone)
        self.order_outcomes.labels(zone, outcome).inc()

    def delivered(self, zone: str, delivery_s: float) -> None:
        self.ensure_zone(zone)
        self.delivery_duration.labels(zone).observe(delivery_s)

    # webhook relay observer ----------------------------------------------------------------
    def webhook_delivery(self, result: str) -> None:
        self.webhook_deliveries.labels(str(result)).inc()

    def webhook_outbox_lag(self, seconds: float) -> None:
        self.webhook_lag_gauge.set(seconds)

    def webhook_endpoints(self, *, active: int, disabled: int) -> None:
        self.webhook_endpoints_gauge.labels("active").set(active)
        self.webhook_endpoints_gauge.labels("disabled").set(disabled)
