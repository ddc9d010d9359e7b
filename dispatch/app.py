"""The app factory: routes, middleware and cleanup contexts, wired in one place."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry

from dispatch import lifecycle
from dispatch.clock import Clock, SystemClock
from dispatch.http import (
    courier_routes,
    event_routes,
    map_routes,
    operator_routes,
    ops_routes,
    order_routes,
    pages,
    store_routes,
    system_routes,
    token_routes,
    webhook_routes,
)
from dispatch.http.middleware import authenticate, observe, problems
from dispatch.http.openapi import Endpoint, build_openapi
from dispatch.http.rate_limit import RateLimiter
from dispatch.keys import (
    CLOCK,
    DATABASE_URL,
    MAP_STATE,
    METRICS,
    OPENAPI,
    RATE_LIMITER,
    ROLE,
    SETTINGS,
    STATIC_FILES,
)
from dispatch.metrics import Metrics
from dispatch.settings import Settings
from geo.network import RoadNetwork

# The largest body any endpoint accepts (a 200,000-SKU snapshot); endpoints enforce their own.
CLIENT_MAX_SIZE = 40 * 1024 * 1024


def endpoints() -> list[Endpoint]:
    return [
        *system_routes.ENDPOINTS,
        *token_routes.ENDPOINTS,
        *store_routes.ENDPOINTS,
        *order_routes.ENDPOINTS,
        *courier_routes.ENDPOINTS,
        *ops_routes.ENDPOINTS,
        *map_routes.ENDPOINTS,
        *operator_routes.ENDPOINTS,
        *event_routes.ENDPOINTS,
        *webhook_routes.ENDPOINTS,
    ]


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    database_url: str | None = None,
    road_network: RoadNetwork | None = None,
    role: str = "all",
    run_dispatch_loop: bool = True,
    run_relay: bool = True,
) -> web.Application:
    """Build the application. Nothing is connected until the app starts (cleanup contexts).

    ``database_url`` and ``road_network`` let tests and the demo pass what they already have;
    ``run_relay=False`` leaves the webhook relay to the caller (tests call ``relay.tick()``).
    """
    app = web.Application(
        middlewares=[observe, problems, authenticate], client_max_size=CLIENT_MAX_SIZE
    )
    app[SETTINGS] = settings
    app[CLOCK] = clock or SystemClock()
    app[METRICS] = Metrics(registry or CollectorRegistry(auto_describe=True))
    app[ROLE] = role
    app[RATE_LIMITER] = RateLimiter(settings.rate_limits)
    app[lifecycle.RUN_LOOP] = run_dispatch_loop
    app[lifecycle.RUN_RELAY] = run_relay
    if database_url:
        app[DATABASE_URL] = database_url
    if road_network is not None:
        app[lifecycle.NETWORK] = road_network
    table = endpoints()
    for ep in table:
        app.router.add_route(ep.method, ep.path, ep.handler, name=ep.handler.__name__)
    for method, path, handler in pages.ROUTES:
        app.router.add_route(method, path, handler, name=handler.__name__)
    app[OPENAPI] = build_openapi(table)
    app[STATIC_FILES] = pages.StaticFiles()
    app[MAP_STATE] = map_routes.MapState()
    app.on_shutdown.append(map_routes.stop_streams)
    app.cleanup_ctx.extend(
        [
            lifecycle.database,
            lifecycle.road_network,
            lifecycle.services,
            lifecycle.catalog_watch,
            lifecycle.dispatch_loop,
            lifecycle.webhook_relay,
        ]
    )
    return app
