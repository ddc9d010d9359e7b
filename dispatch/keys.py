"""Every ``web.AppKey`` of the application: app state is reached only through these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import asyncpg
from aiohttp import web

if TYPE_CHECKING:
    from dispatch.clock import Clock
    from dispatch.metrics import Metrics
    from dispatch.services import Services
    from dispatch.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
DATABASE_URL: web.AppKey[str] = web.AppKey("database_url")
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")
SERVICES: web.AppKey[Services] = web.AppKey("services")
ROLE: web.AppKey[str] = web.AppKey("role")  # all | api | dispatcher | relay
OPENAPI: web.AppKey[dict] = web.AppKey("openapi")
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
PRINCIPAL: web.RequestKey[Any] = web.RequestKey("principal", object)  # dispatch.access.tokens.Principal
RATE_LIMITER: web.AppKey[Any] = web.AppKey("rate_limiter")  # dispatch.http.rate_limit.RateLimiter
MAP_STATE: web.AppKey[Any] = web.AppKey("map_state")  # dispatch.http.map_routes.MapState
STATIC_FILES: web.AppKey[Any] = web.AppKey("static_files")  # dispatch.http.pages.StaticFiles
