"""Cleanup contexts, opened in dependency order: database → road network → services → loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiohttp import web

from dispatch.access.authenticator import TokenAuthenticator
from dispatch.access.tokens import Role
from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.catalog.stores import StoreService
from dispatch.catalog.watch import CatalogWatch
from dispatch.catalog.zone_service import ZoneModeService
from dispatch.catalog.zones import ZoneModeKeeper
from dispatch.couriers.flow import CourierFlow
from dispatch.keys import CLOCK, DATABASE_URL, METRICS, POOL, ROLE, SERVICES, SETTINGS
from dispatch.metrics import Metrics
from dispatch.orders.actions import OrderActions
from dispatch.orders.flow import OrderFlow
from dispatch.orders.intake import Intake
from dispatch.orders.leg_planner import LegPlanner
from dispatch.orders.promise import PromiseErrors
from dispatch.orders.retention import DropoffRetention
from dispatch.orders.shelf import ShelfTruth
from dispatch.postgres.couriers import PostgresCourierRepository
from dispatch.postgres.database import CONNECTION_ERRORS, application_name, create_pool, resolve_database_url
from dispatch.postgres.dispatch_state import PostgresDispatchState
from dispatch.postgres.migrate import apply_migrations
from dispatch.postgres.ops import PostgresOpsRepository
from dispatch.postgres.ops_map import PostgresMapRepository
from dispatch.postgres.order_actions import PostgresOrderActions
from dispatch.postgres.order_batcher import OrderBatcher
from dispatch.postgres.order_events import PostgresEventLog
from dispatch.postgres.orders import PostgresOrderRepository
from dispatch.postgres.pick_results import PostgresPickResults
from dispatch.postgres.retention import PostgresRetentionRepository
from dispatch.postgres.store_status import PostgresStoreStatus
from dispatch.postgres.tokens import PostgresTokenRepository
from dispatch.postgres.tracking import PostgresTrackingRepository
from dispatch.postgres.webhooks import PostgresWebhookStore
from dispatch.postgres.zone_lease import ZoneLease
from dispatch.postgres.zone_modes import PostgresZoneModes
from dispatch.round.loop import DispatchLoop, RoundPorts
from dispatch.round.outlook import LatestOutlook
from dispatch.services import Services
from dispatch.webhooks.http_sender import AiohttpSender, SystemResolver
from dispatch.webhooks.model import RelayPolicy
from dispatch.webhooks.registry import WebhookRegistry
from dispatch.webhooks.relay import Relay
from geo.network import RoadNetwork
from stores.model import SyncResult
from stores.postgres import PostgresStoreRepository
from stores.stock_view import StockView

log = logging.getLogger("flashdispatch")

NETWORK: web.AppKey[RoadNetwork] = web.AppKey("road_network")
RESOLVED_URL: web.AppKey[str] = web.AppKey("resolved_database_url")


async def database(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    url = app.get(DATABASE_URL)
    if not url:
        url = await asyncio.to_thread(resolve_database_url, settings.database_url, settings.home)
    name = application_name(app[ROLE])
    async with await create_pool(url, max_size=settings.pool_max_size, application_name=name) as pool:
        async with pool.acquire() as conn:
            applied = await apply_migrations(conn)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        app[POOL] = pool
        app[RESOLVED_URL] = url
        yield


async def road_network(app: web.Application) -> AsyncIterator[None]:
    if NETWORK not in app:
        from geo.loading import load_road_network

        settings = app[SETTINGS]
        app[NETWORK] = await asyncio.to_thread(
            load_road_network, settings.road_network, cache_dir=settings.home / "cache"
        )
    yield


@dataclass(frozen=True, slots=True)
class _Catalog:
    """The stores in memory: the catalog, the availability view, registration and stock sync."""

    keeper: CatalogKeeper
    stock_view: StockView
    stores: StoreService
    repository: PostgresStoreRepository


async def _catalog(app: web.Application, pool: asyncpg.Pool, metrics: Metrics) -> _Catalog:
    policy = app[SETTINGS].policy
    repository = PostgresStoreRepository(pool)
    keeper = CatalogKeeper(app[NETWORK], max_snap_m=policy.max_snap_m, cutoff_s=policy.table_cutoff_s)
    stock_view = StockView()
    for store_id, levels in (await repository.load_availability()).items():
        stock_view.replace_store(store_id, levels)
    await keeper.rebuild(repository.list_stores)
    for zone in keeper.current.zones():
        metrics.ensure_zone(zone)
    stores = StoreService(
        repository=repository,
        keeper=keeper,
        stock_view=stock_view,
        metrics=metrics,
        max_snap_m=policy.max_snap_m,
        statuses=PostgresStoreStatus(pool),
    )
    return _Catalog(keeper, stock_view, stores, repository)


def _dispatcher(
    app: web.Application, catalog: _Catalog, *, load: StoreLoad, lease: ZoneLease,
    holds: PostgresOrderActions, zones: ZoneModeService, outlook: LatestOutlook,
) -> DispatchLoop:  # fmt: skip
    """The dispatch loop over its ports (each a PostgreSQL adapter or an in-memory service)."""
    pool, policy = app[POOL], app[SETTINGS].policy
    ports = RoundPorts(
        state=PostgresDispatchState(pool),
        couriers=PostgresCourierRepository(pool),
        lease=lease,
        retention=DropoffRetention(
            PostgresRetentionRepository(pool),
            retention_days=policy.dropoff_retention_days,
            interval_s=policy.retention_interval_s,
        ),
        holds=holds,
        store_statuses=catalog.stores,
        zone_modes=zones,
        load_stores=catalog.repository.list_stores,
        transient_errors=CONNECTION_ERRORS,
    )
    return DispatchLoop(
        ports, keeper=catalog.keeper, load=load, clock=app[CLOCK], metrics=app[METRICS], policy=policy,
        outlook=outlook,
    )  # fmt: skip


def _relay(app: web.Application, store: PostgresWebhookStore, sender: AiohttpSender) -> Relay:
    hooks = app[SETTINGS].webhooks
    return Relay(
        store=store,
        sender=sender,
        clock=app[CLOCK],
        observer=app[METRICS],
        transient_errors=CONNECTION_ERRORS,
        policy=RelayPolicy(
            timeout_s=hooks.timeout_s,
            concurrency_per_endpoint=hooks.concurrency_per_endpoint,
            poll_interval_s=hooks.poll_interval_s,
        ),
    )


def _freeze_long_lived() -> None:
    """The road graph, tables and catalog live as long as the process: out of the collector's
    generations (full collections over the graph showed as p99 spikes in intake)."""
    gc.collect()
    gc.freeze()


def _shortfall_recorder(
    orders: PostgresOrderRepository,
) -> Callable[[str, SyncResult, datetime], Awaitable[None]]:
    """A stock sync that leaves reserved orders short records it on each of them."""

    async def record_shortfall(store_id: str, result: SyncResult, now: datetime) -> None:
        await orders.record_shortfall(store_id, [x.sku for x in result.shortfalls], now=now)

    return record_shortfall


def _intake_and_shelf(
    app: web.Application, catalog: _Catalog, *, orders: PostgresOrderRepository, load: StoreLoad,
    batcher: OrderBatcher, zones: ZoneModeKeeper, outlook: LatestOutlook, errors: PromiseErrors,
    dispatcher: DispatchLoop | None,
) -> tuple[Intake, ShelfTruth]:  # fmt: skip
    """Intake and the shelf's pick results, planning legs with one planner (one prediction)."""
    settings, pool, metrics = app[SETTINGS], app[POOL], app[METRICS]
    planner = LegPlanner(
        keeper=catalog.keeper, stock_view=catalog.stock_view, load=load, zones=zones, outlook=outlook,
        policy=settings.policy, tz=settings.tz,
    )  # fmt: skip
    intake = Intake(
        orders=orders, keeper=catalog.keeper, stock_view=catalog.stock_view, load=load, metrics=metrics,
        policy=settings.policy, batcher=batcher, planner=planner, errors=errors,
    )  # fmt: skip
    shelf = ShelfTruth(
        picks=PostgresPickResults(pool), planner=planner, stock_view=catalog.stock_view, load=load,
        metrics=metrics, wake_dispatch=dispatcher.wake if dispatcher is not None else None, errors=errors,
    )  # fmt: skip
    return intake, shelf


async def services(app: web.Application) -> AsyncIterator[None]:
    """Build every service of the app on the pool and the road network, wired to each other."""
    settings, pool, clock, metrics = app[SETTINGS], app[POOL], app[CLOCK], app[METRICS]
    policy = settings.policy
    tokens = PostgresTokenRepository(pool)
    if settings.operator_token:
        await tokens.ensure_static(settings.operator_token, role=Role.OPERATOR, now=clock.now())
    catalog = await _catalog(app, pool, metrics)
    orders = PostgresOrderRepository(pool)
    load = StoreLoad(parallel_picks=policy.parallel_picks, default_courier_eta_s=policy.default_courier_eta_s)

    catalog.stores.on_shortfall = _shortfall_recorder(orders)
    batcher = OrderBatcher(pool, repository=orders)
    order_actions = PostgresOrderActions(pool)
    zone_keeper = ZoneModeKeeper()
    outlook = LatestOutlook()  # the round publishes, intake predicts on it
    errors = PromiseErrors()  # deliveries record how far off intake was; promises keep that margin
    zones = ZoneModeService(records=PostgresZoneModes(pool), keeper=zone_keeper, metrics=metrics)
    await zones.reload()
    webhook_store = PostgresWebhookStore(pool)
    sender = AiohttpSender(allow_private=settings.webhooks.allow_private)
    lease = ZoneLease(app.get(DATABASE_URL) or app[RESOLVED_URL])
    dispatcher = _dispatcher(
        app, catalog, load=load, lease=lease, holds=order_actions, zones=zones, outlook=outlook
    )
    intake, shelf = _intake_and_shelf(
        app, catalog, orders=orders, load=load, batcher=batcher, zones=zone_keeper, outlook=outlook,
        errors=errors, dispatcher=dispatcher,
    )  # fmt: skip
    app[SERVICES] = Services(
        settings=settings, policy=policy, clock=clock, metrics=metrics, pool=pool, tokens=tokens,
        authenticator=TokenAuthenticator(tokens), keeper=catalog.keeper, stock_view=catalog.stock_view,
        stores=catalog.stores, orders=orders, load=load,
        intake=intake, zones=zones, batcher=batcher, shelf=shelf,
        order_flow=OrderFlow(orders=orders, stock_view=catalog.stock_view, load=load, metrics=metrics),
        order_actions=OrderActions(records=order_actions, metrics=metrics),
        couriers=CourierFlow(
            couriers=PostgresCourierRepository(pool), network=catalog.keeper.network, load=load,
            metrics=metrics, policy=policy, keeper=catalog.keeper, errors=errors,
        ),
        dispatcher=dispatcher, ops=PostgresOpsRepository(pool), map=PostgresMapRepository(pool),
        tracking=PostgresTrackingRepository(pool), events=PostgresEventLog(pool),
        webhooks=WebhookRegistry(
            store=webhook_store, resolver=SystemResolver(), allow_private=settings.webhooks.allow_private
        ),
        relay=_relay(app, webhook_store, sender),
    )  # fmt: skip
    for zone in await dispatcher.state.couriers_zones():
        metrics.ensure_zone(zone)
    _freeze_long_lived()
    try:
        yield
    finally:
        await sender.close()
        await lease.close()


#: Seconds between an API-only process's looks at stores, statuses and zone modes changed elsewhere.
CATALOG_WATCH_S = 1.0


async def catalog_watch(app: web.Application) -> AsyncIterator[None]:
    """Role ``api`` runs no rounds: a watch reloads what other processes changed in the catalog."""
    task = None
    if app[ROLE] == "api":
        services = app[SERVICES]
        watch = CatalogWatch(
            signature=PostgresDispatchState(app[POOL]).stores_signature,
            load_stores=services.stores.repository.list_stores, keeper=services.keeper,
            stores=services.stores, zones=services.zones, interval_s=CATALOG_WATCH_S,
            transient_errors=CONNECTION_ERRORS,
        )  # fmt: skip
        task = asyncio.create_task(watch.run_forever(), name="catalog-watch")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def dispatch_loop(app: web.Application) -> AsyncIterator[None]:
    loop = app[SERVICES].dispatcher
    task = None
    if loop is not None and app[ROLE] in ("all", "dispatcher") and app.get(RUN_LOOP, True):
        task = asyncio.create_task(loop.run_forever(), name="dispatch-loop")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def webhook_relay(app: web.Application) -> AsyncIterator[None]:
    """The relay delivers the event log to webhook endpoints (roles all, dispatcher, relay)."""
    relay = app[SERVICES].relay
    task = None
    if app[ROLE] in ("all", "dispatcher", "relay") and app.get(RUN_RELAY, True):
        task = asyncio.create_task(relay.run_forever(), name="webhook-relay")
    yield
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


RUN_LOOP: web.AppKey[bool] = web.AppKey("run_loop")
RUN_RELAY: web.AppKey[bool] = web.AppKey("run_relay")
