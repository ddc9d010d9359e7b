"""Per-token rate limits: an in-memory token bucket per (token, budget), answered with 429."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from dispatch.settings import RateLimits

MAX_BUCKETS = 100_000  # a bound on memory; tokens are few, the bound only matters under abuse


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class TokenBucket:
    """``rate_per_s`` sustained, ``burst`` at once, per key."""

    def __init__(
        self, rate_per_s: float, burst: float, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(burst, 1.0)
        self._monotonic = monotonic
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Spend one request of ``key``'s budget: 0 if allowed, else the seconds to wait."""
        now = self._monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._buckets.clear()
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate_per_s)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s


class RateLimiter:
    """The budgets by route: order intake and courier position reports, per token."""

    def __init__(self, limits: RateLimits, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._by_route = {
            ("POST", "/v1/orders"): TokenBucket(
                limits.orders_per_s, limits.orders_burst, monotonic=monotonic
            ),
            ("POST", "/v1/couriers/{courier_id}/positions"): TokenBucket(
                limits.positions_per_s, limits.positions_burst, monotonic=monotonic
            ),
        }

    def retry_after(self, method: str, route: str, token_id: str) -> int | None:
        """None when the request may go on; else whole seconds to wait (``Retry-After``)."""
        bucket = self._by_route.get((method, route))
        if bucket is None:
            return None
        wait = bucket.take(token_id)
        return max(1, math.ceil(wait)) if wait > 0 else None
