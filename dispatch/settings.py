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


#: The environment variable of each RateLimits field (read here; a benchmark sets them for the
#: processes it starts).
RATE_LIMIT_VARIABLES = {
    "orders_per_s": "FLASHDISPATCH_RATE_LIMIT_ORDERS_PER_S",
    "orders_burst": "FLASHDISPATCH_RATE_LIMIT_ORDERS_BURST",
    "positions_per_s": "FLASHDISPATCH_RATE_LIMIT_POSITIONS_PER_S",
    "positions_burst": "FLASHDISPATCH_RATE_LIMIT_POSITIONS_BURST",
}


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Per-token request budgets (token buckets): sustained rate per second and burst size."""

    orders_per_s: float = 2000.0
    orders_burst: float = 4000.0
    positions_per_s: float = 2000.0
    positions_burst: float = 4000.0

    def __post_init__(self) -> None:
        for field_name, name in RATE_LIMIT_VARIABLES.items():
            if getattr(self, field_name) <= 0:
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
        """Read every FLASHDISPATCH_* variable (and DATABASE_URL); unset ones take the defaults
        written in the dataclasses. A bad value raises SettingsError naming the variable."""
        read = _EnvReader(env)
        timezone = env.get("FLASHDISPATCH_TIMEZONE") or _default(cls, "timezone")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise SettingsError(f"FLASHDISPATCH_TIMEZONE={timezone!r} is not a known time zone") from None
        port = read.number("FLASHDISPATCH_PORT", cls, "port", int)
        if not 0 <= port <= 65535:
            raise SettingsError(f"FLASHDISPATCH_PORT={port} is out of range")
        log_requests = env.get("FLASHDISPATCH_LOG_REQUESTS") or _default(cls, "log_requests")
        if log_requests not in ("errors", "all", "none"):
            raise SettingsError(f"FLASHDISPATCH_LOG_REQUESTS={log_requests!r} must be errors, all or none")
        road = env.get("FLASHDISPATCH_ROAD_NETWORK")
        return cls(
            database_url=env.get("DATABASE_URL") or None,
            home=Path(env.get("FLASHDISPATCH_HOME") or _default(cls, "home")),
            road_network=Path(road) if road else bundled_road_network(),
            host=env.get("FLASHDISPATCH_HOST") or _default(cls, "host"),
            port=port,
            operator_token=env.get("FLASHDISPATCH_OPERATOR_TOKEN") or None,
            timezone=timezone,
            policy=_policy_from(read),
            log_level=env.get("FLASHDISPATCH_LOG_LEVEL") or _default(cls, "log_level"),
            pool_max_size=read.number("FLASHDISPATCH_DB_POOL_SIZE", cls, "pool_max_size", int),
            rate_limits=_rates_from(read),
            log_requests=log_requests,
            slow_request_s=read.number("FLASHDISPATCH_SLOW_REQUEST_S", cls, "slow_request_s"),
            webhooks=_webhooks_from(env, read),
        )


def _default(cls: type, name: str) -> Any:
    """A dataclass field's default, as written in the class (the one place for it)."""
    found = cls.__dataclass_fields__[name]  # type: ignore[attr-defined]
    return found.default


class _EnvReader:
    """Numbers from the environment, or the field's own default when a variable is unset or empty."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def number(self, name: str, cls: type, field_name: str, kind: type = float) -> Any:
        raw = self.env.get(name)
        if raw is None or raw == "":
            return _default(cls, field_name)
        try:
            return kind(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a valid {kind.__name__}") from None


def _policy_from(read: _EnvReader) -> Policy:
    variables = {
        "sla_minutes": "FLASHDISPATCH_SLA_MINUTES",
        "max_snap_m": "FLASHDISPATCH_MAX_SNAP_M",
        "dispatch_interval_s": "FLASHDISPATCH_DISPATCH_INTERVAL_S",
        "courier_silence_s": "FLASHDISPATCH_COURIER_SILENCE_S",
        "dropoff_retention_days": "FLASHDISPATCH_DROPOFF_RETENTION_DAYS",
        "placed_at_max_age_s": "FLASHDISPATCH_PLACED_AT_MAX_AGE_S",
        "placed_at_max_ahead_s": "FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S",
    }
    return Policy(
        **{field_name: read.number(var, Policy, field_name) for field_name, var in variables.items()}
    )


def _rates_from(read: _EnvReader) -> RateLimits:
    return RateLimits(
        **{name: read.number(var, RateLimits, name) for name, var in RATE_LIMIT_VARIABLES.items()}
    )


def _webhooks_from(env: Mapping[str, str], read: _EnvReader) -> WebhookSettings:
    allow_private = env.get("FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE") or "0"
    if allow_private not in ("0", "1"):
        raise SettingsError(f"FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE={allow_private!r} must be 0 or 1")
    return WebhookSettings(
        allow_private=allow_private == "1",
        timeout_s=read.number("FLASHDISPATCH_WEBHOOK_TIMEOUT_S", WebhookSettings, "timeout_s"),
        concurrency_per_endpoint=read.number(
            "FLASHDISPATCH_WEBHOOK_CONCURRENCY", WebhookSettings, "concurrency_per_endpoint", int
        ),
        poll_interval_s=read.number("FLASHDISPATCH_WEBHOOK_POLL_S", WebhookSettings, "poll_interval_s"),
    )
