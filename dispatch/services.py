"""The service layer's objects for one app, built once by the lifecycle and reached by handlers."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from dispatch.access.authenticator import TokenAuthenticator
from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.catalog.stores import StoreService
from dispatch.catalog.zone_service import ZoneModeService
from dispatch.clock import Clock
from dispatch.couriers.flow import CourierFlow
from dispatch.metrics import Metrics
from dispatch.orders.actions import OrderActions
from dispatch.orders.flow import OrderFlow
from dispatch.orders.intake import Intake
from dispatch.orders.shelf import ShelfTruth
from dispatch.postgres.ops import PostgresOpsRepository
from dispatch.postgres.ops_map import PostgresMapRepository
from dispatch.postgres.order_batcher import OrderBatcher
from dispatch.postgres.order_events import PostgresEventLog
from dispatch.postgres.orders import PostgresOrderRepository
from dispatch.postgres.tokens import PostgresTokenRepository
from dispatch.postgres.tracking import PostgresTrackingRepository
from dispatch.round.loop import DispatchLoop
from dispatch.settings import Policy, Settings
from dispatch.webhooks.registry import WebhookRegistry
from dispatch.webhooks.relay import Relay
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
    orders: PostgresOrderRepository
    load: StoreLoad
    intake: Intake
    batcher: OrderBatcher  # intake's placements; benches read its batch counters
    order_flow: OrderFlow
    shelf: ShelfTruth  # pick results and short picks
    order_actions: OrderActions
    zones: ZoneModeService
    couriers: CourierFlow
    dispatcher: DispatchLoop
    ops: PostgresOpsRepository
    map: PostgresMapRepository
    tracking: PostgresTrackingRepository
    events: PostgresEventLog
    webhooks: WebhookRegistry
    relay: Relay

    def refresh_gauges(self) -> None:
        """Gauges read at scrape time (pool use)."""
        pool = self.pool
        size = pool.get_size()
        idle = pool.get_idle_size()
        self.metrics.pool_connections(in_use=size - idle, idle=idle, maximum=pool.get_max_size())
