"""HTTP middleware: request ids, RED metrics and logs, error bodies, authentication, rate limits."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from aiohttp import web

from dispatch.access.tokens import hash_token
from dispatch.errors import DispatchError
from dispatch.http.openapi import Handler
from dispatch.http.problems import ApiError, error_response
from dispatch.keys import METRICS, PRINCIPAL, RATE_LIMITER, REQUEST_ID, SERVICES, SETTINGS
from dispatch.logs import ORDER_ID
from dispatch.logs import REQUEST_ID as REQUEST_ID_VAR
from dispatch.postgres.database import CONNECTION_ERRORS
from geo.errors import GeoError
from stores.errors import StoreError

log = logging.getLogger("flashdispatch.http")

# Connection-class failures: the database cannot be reached right now (503, retry).
UNAVAILABLE_ERRORS = CONNECTION_ERRORS

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
MAX_TOKEN_LENGTH = 256
access_log = logging.getLogger("flashdispatch.access")


def route_template(request: web.Request) -> str:
    info = request.match_info
    if info.http_exception is not None or info.route.resource is None:
        return "unmatched"
    return info.route.resource.canonical


@web.middleware
async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id in and out, and the RED metrics by route template (bounded labels)."""
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id", "")[:64]
    if not request_id.isascii() or not request_id.isprintable() or not request_id.strip():
        request_id = secrets.token_hex(16)  # 32 hex digits, as uuid4().hex gave, at a third of the cost
    request[REQUEST_ID] = request_id
    REQUEST_ID_VAR.set(request_id)
    ORDER_ID.set(None)
    status = 500
    try:
        response = await handler(request)
        status = response.status
        if not response.prepared:  # a stream sent its headers already (it sets the id itself)
            response.headers["X-Request-Id"] = request[REQUEST_ID]
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = 499  # the client went away (or the server is stopping) mid-request
        raise
    finally:
        metrics = request.app[METRICS]
        route = route_template(request)
        elapsed = time.perf_counter() - started
        metrics.observe_http(request.method, route, status, elapsed)
        _log_request(request, route, status, elapsed)


def _log_request(request: web.Request, route: str, status: int, elapsed: float) -> None:
    """One line per request, by policy: only failures and slow ones (default), all, or none.

    Never headers or bodies: the Authorization header and token secrets stay out of the logs.
    """
    settings = request.app[SETTINGS]
    mode = settings.log_requests
    if mode == "none" or (mode == "errors" and status < 400 and elapsed < settings.slow_request_s):
        return
    level = logging.WARNING if status >= 500 else logging.INFO
    access_log.log(
        level,
        "%s %s %d %.1f ms",
        request.method,
        route,
        status,
        elapsed * 1000,
        extra={"method": request.method, "route": route, "status": status,
               "duration_ms": round(elapsed * 1000, 1)},
    )


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
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
        request.app[METRICS].unhandled_error()
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response("internal", "an unexpected error occurred; it has been logged")


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Resolve ``Authorization: Bearer <token>`` for every API path; 401 without a valid one."""
    if request.path in OPEN_PATHS or not request.path.startswith("/v1/"):
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise ApiError("unauthorized", "a bearer token is required (Authorization: Bearer <token>)")
    if not is_plausible_token(secret):  # cheap refusal before any hashing or database lookup
        raise ApiError("unauthorized", "the token is unknown or revoked")
    principal = await request.app[SERVICES].authenticator.resolve(hash_token(secret))
    if principal is None:
        raise ApiError("unauthorized", "the token is unknown or revoked")
    request[PRINCIPAL] = principal
    limiter = request.app.get(RATE_LIMITER)
    if limiter is not None:
        wait = limiter.retry_after(request.method, route_template(request), principal.token_id)
        if wait is not None:
            raise ApiError(
                "rate_limited",
                f"this token is over its request budget for {request.method} {route_template(request)};"
                f" retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
    return await handler(request)


def is_plausible_token(secret: str) -> bool:
    """A secret we could ever have issued: printable ASCII without spaces, of sane length."""
    return (
        8 <= len(secret) <= MAX_TOKEN_LENGTH
        and secret.isascii()
        and secret.isprintable()
        and " " not in secret
    )
