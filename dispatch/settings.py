"""Service settings: frozen values read once from an environment mapping."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A configuration variable has a value we cannot use; the message names it."""


def bundled_road_network() -> Path:
    """The Shenzhen Nanshan/Futian network shipped inside the package (© OpenStreetMap, ODbL)."""
    return Path(__file__).resolve().parent.parent / "geo" / "data" / "shenzhen-nanshan-futian.drive.graphml"


@dataclass(frozen=True, slots=True)
class Policy:
    """Domain tuning that the service passes to the pure core (never a global)."""

    sla_minutes: float = 30.0
    default_pick_minutes: float = 5.0
    default_radius_minutes: float = 20.0
    default_courier_capacity: int = 3
    max_snap_m: float = 500.0
    dispatch_interval_s: float = 5.0
    courier_silence_s: float = 300.0
    fail_after_s: float = 3 * 3600.0
    dropoff_retention_days: float = 30.0
    retention_interval_s: float = 600.0
    default_shift_s: float = 8 * 3600.0  # a shift started without an end lasts this long
    store_candidates: int = 4  # stores intake tries, best first, before refusing
    parallel_picks: int = 2  # orders a store packs at once
    default_courier_eta_s: float = 300.0  # a courier's arrival at a store no courier is near
    table_cutoff_s: float = 3600.0  # travel-time tables stop searching past this ride
    overload_extension_cap_minutes: int = 30  # ``on_overload: extend`` adds at most this
    max_until_s: float = 24 * 3600.0  # an operator's hold, pause or zone mode ends within this
    courier_snap_factor: float = 4.0  # a courier's position snaps this many times farther than a drop-off
    # an order's placed_at must lie in [now - max_age, now + max_ahead] of the service's clock
    placed_at_max_age_s: float = 900.0
    placed_at_max_ahead_s: float = 60.0

    def __post_init__(self) -> None:
        if self.sla_minutes <= 0:
            raise SettingsError("FLASHDISPATCH_SLA_MINUTES must be positive")
        if self.max_snap_m <= 0:
            raise SettingsError("FLASHDISPATCH_MAX_SNAP_M must be positive")
        if self.dispatch_interval_s <= 0:
            raise SettingsError("FLASHDISPATCH_DISPATCH_INTERVAL_S must be positive")
        if self.dropoff_retention_days < 0:
            raise SettingsError("FLASHDISPATCH_DROPOFF_RETENTION_DAYS must not be negative")
        if not (math.isfinite(self.placed_at_max_age_s) and self.placed_at_max_age_s >= 0):
            raise SettingsError("FLASHDISPATCH_PLACED_AT_MAX_AGE_S must be a finite number, not negative")
        if not (math.isfinite(self.placed_at_max_ahead_s) and self.placed_at_max_ahead_s >= 0):
            raise SettingsError("FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S must be a finite number, not negative")


def _policy_default(name: str) -> float:
    """A policy field's default, as written in the dataclass (one place for it)."""
    default = Policy.__dataclass_fields__[name].default
    assert isinstance(default, float)
    return default


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-token request budgets (token buckets): sustained rate per second and burst size."""

    orders_per_s: float = 2000.0
    orders_burst: float = 4000.0
    positions_per_s: float = 2000.0
    positions_burst: float = 4000.0

    def __post_init__(self) -> None:
        for name, value in (
            ("FLASHDISPATCH_RATE_LIMIT_ORDERS_PER_S", self.orders_per_s),
            ("FLASHDISPATCH_RATE_LIMIT_ORDERS_BURST", self.orders_burst),
            ("FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S", self.positions_per_s),
            ("FLASHDISPATCH_RATE_LIMIT_POSITIONS_BURST", self.positions_burst),
        ):
            if value <= 0:
                raise SettingsError(f"{name} must be positive")


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    """FLASHDISPATCH_WEBHOOK_*: the SSRF guard's switch and the relay's tuning."""

    allow_private: bool = False  # tests and the demo post to 127.0.0.1
    timeout_s: float = 10.0
    concurrency_per_endpoint: int = 32
    poll_interval_s: float = 0.25

    def __post_init__(self) -> None:
        if self.timeout_s <= 0:
            raise SettingsError("FLASHDISPATCH_WEBHOOK_TIMEOUT_S must be positive")
        if self.concurrency_per_endpoint < 1:
            raise SettingsError("FLASHDISPATCH_WEBHOOK_CONCURRENCY must be at least 1")
        if self.poll_interval_s <= 0:
            raise SettingsError("FLASHDISPATCH_WEBHOOK_POLL_S must be positive")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the process needs from its environment."""

    database_url: str | None = None
    home: Path = Path(".flashdispatch")
    road_network: Path = field(default_factory=bundled_road_network)
    host: str = "127.0.0.1"
    port: int = 8080
    operator_token: str | None = None
    timezone: str = "Asia/Shanghai"
    policy: Policy = field(default_factory=Policy)
    log_level: str = "INFO"
    pool_max_size: int = 10
    rate_limits: RateLimits = field(default_factory=RateLimits)
    log_requests: str = "errors"  # errors (4xx/5xx and slow) | all | none
    slow_request_s: float = 1.0
    webhooks: WebhookSettings = field(default_factory=WebhookSettings)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def number(name: str, default: float, kind: type = float) -> Any:
            raw = env.get(name)
            if raw is None or raw == "":
                return default
            try:
                return kind(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None

        timezone = env.get("FLASHDISPATCH_TIMEZONE") or "Asia/Shanghai"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"FLASHDISPATCH_TIMEZONE={timezone!r} is not a known time zone") from None
        port = number("FLASHDISPATCH_PORT", 8080, int)
        if not 0 <= port <= 65535:
            raise SettingsError(f"FLASHDISPATCH_PORT={port} is out of range")
        policy = Policy(
            sla_minutes=number("FLASHDISPATCH_SLA_MINUTES", 30.0),
            max_snap_m=number("FLASHDISPATCH_MAX_SNAP_M", 500.0),
            dispatch_interval_s=number("FLASHDISPATCH_DISPATCH_INTERVAL_S", 5.0),
            courier_silence_s=number("FLASHDISPATCH_COURIER_SILENCE_S", 300.0),
            dropoff_retention_days=number("FLASHDISPATCH_DROPOFF_RETENTION_DAYS", 30.0),
            placed_at_max_age_s=number(
                "FLASHDISPATCH_PLACED_AT_MAX_AGE_S", _policy_default("placed_at_max_age_s")
            ),
            placed_at_max_ahead_s=number(
                "FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S", _policy_default("placed_at_max_ahead_s")
            ),
        )
        rates = RateLimits(
            orders_per_s=number("FLASHDISPATCH_RATE_LIMIT_ORDERS_PER_S", 2000.0),
            orders_burst=number("FLASHDISPATCH_RATE_LIMIT_ORDERS_BURST", 4000.0),
            positions_per_s=number("FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S", 2000.0),
            positions_burst=number("FLASHDISPATCH_RATE_LIMIT_POSITIONS_BURST", 4000.0),
        )
        log_requests = env.get("FLASHDISPATCH_LOG_REQUESTS") or "errors"
        if log_requests not in ("errors", "all", "none"):
            raise SettingsError(
                f"FLASHDISPATCH_LOG_REQUESTS={log_requests!r} must be errors, all or none"
            )
        allow_private = env.get("FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE") or "0"
        if allow_private not in ("0", "1"):
            raise SettingsError(f"FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE={allow_private!r} must be 0 or 1")
        webhooks = WebhookSettings(
            allow_private=allow_private == "1",
            timeout_s=number("FLASHDISPATCH_WEBHOOK_TIMEOUT_S", 10.0),
            concurrency_per_endpoint=number("FLASHDISPATCH_WEBHOOK_CONCURRENCY", 32, int),
            poll_interval_s=number("FLASHDISPATCH_WEBHOOK_POLL_S", 0.25),
        )
        road = env.get("FLASHDISPATCH_ROAD_NETWORK")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(env.get("FLASHDISPATCH_HOME") or ".flashdispatch"),
            road_network=Path(road) if road else bundled_road_network(),
            host=env.get("FLASHDISPATCH_HOST") or "127.0.0.1",
            port=port,
            operator_token=env.get("FLASHDISPATCH_OPERATOR_TOKEN") or None,
            timezone=timezone,
            policy=policy,
            log_level=env.get("FLASHDISPATCH_LOG_LEVEL") or "INFO",
            pool_max_size=number("FLASHDISPATCH_DB_POOL_SIZE", 10, int),
            rate_limits=rates,
            log_requests=log_requests,
            slow_request_s=number("FLASHDISPATCH_SLOW_REQUEST_S", 1.0),
            webhooks=webhooks,
        )
