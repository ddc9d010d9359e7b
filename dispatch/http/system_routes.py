"""Open endpoints: liveness, readiness, metrics, the OpenAPI document."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from dispatch.http import schemas as s
from dispatch.http.openapi import Endpoint
from dispatch.keys import METRICS, OPENAPI, POOL, SERVICES


async def healthz(request: web.Request) -> web.Response:
    """The process is up."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The database answers and the road network and store catalog are loaded."""
    checks: dict[str, str] = {}
    try:
        await request.app[POOL].fetchval("SELECT 1", timeout=2)
        checks["database"] = "ok"
    except Exception as exc:  # any failure here means "not ready", reported, never raised
        checks["database"] = f"unavailable: {type(exc).__name__}"
    services = request.app.get(SERVICES)
    checks["road_network"] = "ok" if services is not None and services.keeper.network else "loading"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status=200 if ready else 503
    )


async def metrics(request: web.Request) -> web.Response:
    """Prometheus exposition of this app's registry."""
    metrics = request.app[METRICS]
    services = request.app.get(SERVICES)
    if services is not None:
        services.refresh_gauges()
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3 document of this API."""
    return web.json_response(request.app[OPENAPI])


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", "ops", responses={200: s.STATUS_OK}),
    Endpoint("GET", "/readyz", readyz, "Readiness", "ops", responses={200: s.READY, 503: s.READY}),
    Endpoint("GET", "/metrics", metrics, "Prometheus metrics", "ops", responses={200: None}),
    Endpoint("GET", "/openapi.json", openapi, "This document", "ops", responses={200: {"type": "object"}}),
]
