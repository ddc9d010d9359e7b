"""The service layer's objects for one app, built once by the lifecycle and reached by handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from dispatch.catalog_keeper import CatalogKeeper
from dispatch.clock import Clock
from dispatch.http.auth import TokenAuthenticator
from dispatch.metrics import Metrics
from dispatch.postgres.tokens import PostgresTokenRepository
from dispatch.settings import Policy, Settings
from dispatch.store_service import StoreService
from stores.stock_view import StockView


@dataclass
class Services:
    settings: Settings
    policy: Policy
    clock: Clock
    metrics: Metrics
    pool: asyncpg.Pool
    tokens: PostgresTokenRepository
    authenticator: TokenAuthenticator
    keeper: CatalogKeeper
    stock_view: StockView
    stores: StoreService
    extra: dict[str, Any] = field(default_factory=dict)
    intake: Any = None
    order_flow: Any = None
    load: Any = None
    orders: Any = None
    couriers: Any = None
    dispatcher: Any = None
    ops: Any = None

    def refresh_gauges(self) -> None:
        """Gauges read at scrape time (pool use)."""
        pool = self.pool
        size = pool.get_size()
        idle = pool.get_idle_size()
        self.metrics.db_pool.labels("in_use").set(size - idle)
        self.metrics.db_pool.labels("idle").set(idle)
        self.metrics.db_pool.labels("max").set(pool.get_max_size())
