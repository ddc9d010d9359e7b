"""HTTP middleware: request ids and RED metrics, error bodies, bearer-token authentication."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import asyncpg
from aiohttp import web

from dispatch.auth import hash_token
from dispatch.errors import DispatchError
from dispatch.http.problems import ApiError, error_response
from dispatch.keys import METRICS, PRINCIPAL, REQUEST_ID, SERVICES
from geo.errors import GeoError
from stores.errors import StoreError

log = logging.getLogger("flashdispatch.http")

# Connection-class failures: the database cannot be reached right now (503, retry).
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})


def route_template(request: web.Request) -> str:
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return "unmatched"
    return info.route.resource.canonical


@web.middleware
async def observe(request: web.Request, handler):
    """Request id in and out, and the RED metrics by route template (bounded labels)."""
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    request[REQUEST_ID] = request_id[:64]
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request[REQUEST_ID]
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics = request.app[METRICS]
        route = route_template(request)
        metrics.http_requests.labels(request.method, route, str(status)).inc()
        metrics.http_duration.labels(request.method, route).observe(time.perf_counter() - started)


@web.middleware
async def problems(request: web.Request, handler):
    """Every failure becomes ``{"error", "detail"}``; never a traceback for what a client sent."""
    try:
        return await handler(request)
    except ApiError as exc:
        headers = exc.extra().pop("headers", None)
        extra = {k: v for k, v in exc.extra().items() if k != "headers"}
        return error_response(exc.code, exc.detail, extra=extra, headers=headers)
    except (DispatchError, StoreError, GeoError) as exc:
        detail = getattr(exc, "detail", None) or str(exc)
        return error_response(exc.code, detail, extra=exc.extra() if hasattr(exc, "extra") else None)
    except web.HTTPException as exc:
        if exc.status == 404:
            return error_response("not_found", f"no such endpoint: {request.method} {request.path}")
        if exc.status == 405:
            return error_response(
                "method_not_allowed", f"{request.method} is not allowed on {request.path}"
            )
        if exc.status == 413:
            return error_response("body_too_large", "the body is too large")
        raise
    except UNAVAILABLE_ERRORS as exc:
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return error_response(
            "unavailable", "the database cannot be reached right now; retry shortly",
            headers={"Retry-After": "1"},
        )
    except asyncio.CancelledError:
        raise
    except Exception:
        request.app[METRICS].http_unhandled.inc()
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal", "an unexpected error occurred; it has been logged")


@web.middleware
async def authenticate(request: web.Request, handler):
    """Resolve ``Authorization: Bearer <token>`` for every API path; 401 without a valid one."""
    if request.path in OPEN_PATHS or not request.path.startswith("/v1/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError("unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    principal = await request.app[SERVICES].authenticator.resolve(hash_token(secret.strip()))
    if principal is None:
        raise ApiError("unauthorized", "the token is unknown or revoked")
    request[PRINCIPAL] = principal
    return await handler(request)
