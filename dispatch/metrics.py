"""Prometheus metrics of one app, built on a given registry (never the global one)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from dispatch.catalog.zones import ZoneMode
from dispatch.couriers.model import COURIER_STATES
from dispatch.orders.lifecycle import IN_DISPATCH, values
from stores.model import STORE_STATES

DELIVERY_BUCKETS_S = (300, 600, 900, 1200, 1500, 1800, 2100, 2400, 2700, 3600, 5400, 7200)
ROUND_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PROMISE_ERROR_MINUTES = (-20, -15, -10, -5, -3, -2, -1, 0, 1, 2, 3, 5, 10, 15, 20)
PROMISE_ERROR_BUCKETS_S = tuple(float(m * 60) for m in PROMISE_ERROR_MINUTES)
HTTP_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)

OUTCOMES = ("on_time", "late", "cancelled", "failed")
STAGES = tuple(values(IN_DISPATCH))
OPERATOR_ACTIONS = ("hold", "release", "reassign", "store_status", "zone_mode", "zone_mode_cleared")
WEBHOOK_RESULTS = ("delivered", "retry", "failed", "gone")
WEBHOOK_STATES = ("active", "disabled")


class Metrics:
    """Every metric of the service; also the observer port the domain code reports to."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._zones: set[str] = set()
        self._http_children: dict[tuple[str, str, int], tuple] = {}
        self._placed_children: dict[str, Counter] = {}
        self._order_metrics(registry)
        self._round_metrics(registry)
        self._stock_metrics(registry)
        self._http_metrics(registry)
        self._steering_metrics(registry)
        self._system_metrics(registry)
        self._prime_labels()

    def _order_metrics(self, registry: CollectorRegistry) -> None:
        """Orders placed, refused and settled, and their delivery times."""
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

    def _round_metrics(self, registry: CollectorRegistry) -> None:
        """What dispatch rounds see and do, by zone."""
        p = "flashdispatch_"
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

    def _stock_metrics(self, registry: CollectorRegistry) -> None:
        """Stock syncs, shortfalls and lost reservations."""
        p = "flashdispatch_"
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

    def _http_metrics(self, registry: CollectorRegistry) -> None:
        """RED metrics of the API."""
        p = "flashdispatch_"
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

    def _steering_metrics(self, registry: CollectorRegistry) -> None:
        """What operators and stores set, and how honest the promise is."""
        p = "flashdispatch_"
        self.operator_actions = Counter(
            p + "operator_actions",
            "Operator and store actions that changed something.",
            ["action"],
            registry=registry,
        )
        self.orders_split = Counter(
            p + "orders_split",
            "Orders placed as two legs from two stores (allow_split: no single store had every line).",
            ["zone"],
            registry=registry,
        )
        self.pick_shortfalls = Counter(
            p + "pick_shortfalls",
            "Store pick results that gave less than the leg reserved, by what became of the missing"
            " units (resourced: a new leg from another store; dropped; cancelled: the whole order).",
            ["zone", "action"],
            registry=registry,
        )
        self.pick_shortfall_units = Counter(
            p + "pick_shortfall_units",
            "Units a store's shelf did not have although its stock count said so.",
            ["zone"],
            registry=registry,
        )
        self.orders_promise_extended = Counter(
            p + "orders_promise_extended",
            "Orders whose promise an overloaded zone extended (on_overload: extend).",
            ["zone"],
            registry=registry,
        )
        self.promise_error = Histogram(
            p + "promise_error_seconds",
            "Delivered minus the delivery predicted at intake (negative: earlier than said).",
            ["zone"],
            buckets=PROMISE_ERROR_BUCKETS_S,
            registry=registry,
        )
        self.stores_by_status = Gauge(
            p + "stores", "Stores by status (online, busy, paused).", ["status"], registry=registry
        )
        self.zone_mode = Gauge(
            p + "zone_mode",
            "Each zone's mode: closed (0/1), radius_factor, promise_extension_minutes, on_overload_extend"
            " and on_overload_refuse (0/1); a zone without a mode reads 0, 1, 0, 0, 0.",
            ["zone", "setting"],
            registry=registry,
        )

    def _system_metrics(self, registry: CollectorRegistry) -> None:
        """The database pool and the webhook relay."""
        p = "flashdispatch_"
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

    def _prime_labels(self) -> None:
        """Every bounded label value at zero, so dashboards see zeros, not gaps."""
        for result in WEBHOOK_RESULTS:
            self.webhook_deliveries.labels(result)
        for state in WEBHOOK_STATES:
            self.webhook_endpoints_gauge.labels(state)
        for kind in ("snapshot", "delta"):
            for result in ("applied", "stale", "rejected"):
                self.stock_syncs.labels(kind, result)
        for reason in ("out_of_stock", "out_of_area", "zone_closed", "over_capacity"):
            self.order_rejections.labels(reason)
        for reason in ("race_lost", "out_of_stock"):
            self.reservation_failures.labels(reason)
        for state in ("in_use", "idle", "max"):
            self.db_pool.labels(state)
        for action in OPERATOR_ACTIONS:
            self.operator_actions.labels(action)

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
        self._zone_mode_gauges(zone, None)  # a zone without a mode: closed 0, radius factor 1, ...
        self.orders_promise_extended.labels(zone)
        self.promise_error.labels(zone)

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

    # observer ports (orders, couriers, catalog, round): named facts, never prometheus objects --
    def order_refused(self, reason: str) -> None:
        self.order_rejections.labels(reason).inc()

    def reservation_failed(self, reason: str) -> None:
        self.reservation_failures.labels(reason).inc()

    def stock_synced(self, kind: str, result: str) -> None:
        self.stock_syncs.labels(kind, result).inc()

    def stock_fell_short(self, zone: str, skus: int) -> None:
        self.ensure_zone(zone)
        self.stock_shortfalls.labels(zone).inc(skus)

    def route_committed(self, zone: str) -> None:
        self.ensure_zone(zone)
        self.assignments.labels(zone).inc()

    def round_finished(self, zones: Iterable[str], *, duration_s: float, finished_at: float) -> None:
        """One round over ``zones``; ``finished_at`` is Unix time (the wall clock, for alerts)."""
        for zone in zones:
            self.ensure_zone(zone)
            self.round_duration.labels(zone).observe(duration_s)
            self.rounds.labels(zone).inc()
            self.last_round.labels(zone).set(finished_at)

    def zone_state(
        self, zone: str, *, in_flight: Mapping[str, int], at_risk: int, couriers: Mapping[str, int]
    ) -> None:
        """What a round saw in a zone it dispatches (absent stages and states read zero)."""
        self.ensure_zone(zone)
        for stage in STAGES:
            self.orders_in_flight.labels(zone, stage).set(in_flight.get(stage, 0))
        self.orders_at_risk.labels(zone).set(at_risk)
        for state in COURIER_STATES:
            self.couriers.labels(zone, state).set(couriers.get(state, 0))

    def zone_released(self, zone: str) -> None:
        """This process no longer dispatches ``zone``: its gauges read zero here."""
        self.zone_state(zone, in_flight={}, at_risk=0, couriers={})

    def operator_action(self, action: str) -> None:
        self.operator_actions.labels(action).inc()

    def order_split(self, zone: str) -> None:
        self.orders_split.labels(zone).inc()

    def pick_shortfall(self, zone: str, action: str, units: int) -> None:
        self.pick_shortfalls.labels(zone, action).inc()
        self.pick_shortfall_units.labels(zone).inc(units)

    def promise_extended(self, zone: str) -> None:
        self.ensure_zone(zone)
        self.orders_promise_extended.labels(zone).inc()

    def promise_error_observed(self, zone: str, error_s: float) -> None:
        """Delivered minus predicted at intake, for every delivered order."""
        self.ensure_zone(zone)
        self.promise_error.labels(zone).observe(error_s)

    def store_statuses(self, counts: Mapping[str, int]) -> None:
        for status in STORE_STATES:
            self.stores_by_status.labels(status).set(counts.get(status, 0))

    def zone_modes(self, modes: Mapping[str, ZoneMode]) -> None:
        for zone in self._zones | set(modes):
            self._zone_mode_gauges(zone, modes.get(zone))

    def _zone_mode_gauges(self, zone: str, mode: ZoneMode | None) -> None:
        settings = {
            "closed": float(bool(mode and mode.closed)),
            "radius_factor": mode.radius_factor if mode else 1.0,
            "promise_extension_minutes": float(mode.promise_extension_minutes) if mode else 0.0,
            "on_overload_extend": float(bool(mode and mode.on_overload == "extend")),
            "on_overload_refuse": float(bool(mode and mode.on_overload == "refuse")),
        }
        for setting, value in settings.items():
            self.zone_mode.labels(zone, setting).set(value)

    def unhandled_error(self) -> None:
        self.http_unhandled.inc()

    def pool_connections(self, *, in_use: int, idle: int, maximum: int) -> None:
        self.db_pool.labels("in_use").set(in_use)
        self.db_pool.labels("idle").set(idle)
        self.db_pool.labels("max").set(maximum)

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
