"""Operators and stores steer (DESIGN.md section 14): order hold / release / reassign, store
status, zone modes."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.catalog.zones import ON_OVERLOAD, ZoneMode
from dispatch.clock import iso
from dispatch.http import bodies as b
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.fields import Obj, path_id, raise_if_invalid
from dispatch.http.openapi import Endpoint
from dispatch.http.order_routes import ORDER, order_id_of, order_json
from dispatch.http.store_routes import store_id_of, store_json
from dispatch.http.validation import read_json_object
from dispatch.keys import CLOCK, SERVICES
from stores.model import StoreStatus

ACTION_MAX_BYTES = 8 * 1024
AREA_MAX_BYTES = 256 * 1024


def checked_until(until: datetime | None, now: datetime, max_ahead_s: float) -> datetime | None:
    """An end strictly in the future and at most ``max_ahead_s`` away (a rule relative to the clock)."""
    if until is not None and not now < until <= now + timedelta(seconds=max_ahead_s):
        raise_if_invalid({"until": f"must be after now and at most {max_ahead_s / 3600:g} hours ahead"})
    return until


async def _parse(request: web.Request, body: Obj, max_bytes: int = ACTION_MAX_BYTES) -> dict:
    return body.parse(await read_json_object(request, max_bytes=max_bytes))


async def hold_order(request: web.Request) -> web.Response:
    """Keep an order out of dispatch (off its route if not picked up); its promise keeps running."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    values = await _parse(request, b.HOLD)
    until = checked_until(values["until"], now, services.policy.max_until_s)
    order = await services.order_actions.hold(
        order_id_of(request), until=until, now=now, actor=principal.actor, reason=values["reason"]
    )
    return web.json_response(order_json(order))


async def release_order(request: web.Request) -> web.Response:
    """Give a held order back to dispatch."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    values = await _parse(request, b.RELEASE)
    order = await services.order_actions.release(
        order_id_of(request), now=now, actor=principal.actor, reason=values["reason"]
    )
    return web.json_response(order_json(order))


async def reassign_order(request: web.Request) -> web.Response:
    """Move an order not yet picked up to a named courier (next round), or back to the pool."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    values = await _parse(request, b.REASSIGN)
    order = await services.order_actions.reassign(
        order_id_of(request),
        courier_id=values["courier_id"],
        now=now,
        actor=principal.actor,
        reason=values["reason"],
    )
    return web.json_response(order_json(order))


async def put_store_status(request: web.Request) -> web.Response:
    """Online, busy (extra pick minutes) or paused, until a time; by an operator or the store itself."""
    store_id = store_id_of(request)
    principal = require_store(request, store_id)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    values = await _parse(request, b.STORE_STATUS)
    until = checked_until(values["until"], now, services.policy.max_until_s)
    status = StoreStatus(values["status"], values["extra_pick_minutes"] or 0.0, until, values["reason"], now)
    store = await services.stores.set_status(store_id, status, actor=principal.actor, now=now)
    return web.json_response(store_json(store))


def zone_of(request: web.Request) -> str:
    return path_id(request.match_info, "zone")


def checked_area(area: dict | None) -> dict | None:
    """A polygon shapely can use (valid, not self-intersecting): a rule no schema states."""
    if area is None:
        return None
    if sum(len(ring) for ring in area["coordinates"]) > b.MAX_AREA_POSITIONS:
        raise_if_invalid({"closed_area": f"must hold at most {b.MAX_AREA_POSITIONS} positions"})
    try:
        ZoneMode.polygon(area)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        raise_if_invalid({"closed_area": f"is not a usable polygon ({str(exc)[:80]})"})
    return area


def zone_mode_json(mode: ZoneMode) -> dict:
    return {
        "zone": mode.zone,
        "reason": mode.reason,
        "radius_factor": mode.radius_factor,
        "promise_extension_minutes": mode.promise_extension_minutes,
        "closed": mode.closed,
        "closed_area": mode.closed_area,
        "on_overload": mode.on_overload,
        "until": iso(mode.until),
        "set_at": iso(mode.set_at),
    }


async def put_zone_mode(request: web.Request) -> web.Response:
    """Set a zone's mode for new orders: radius factor, promise extension, closed, closed area."""
    principal = require_role(request, Role.OPERATOR)
    zone = zone_of(request)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    values = await _parse(request, b.ZONE_MODE, AREA_MAX_BYTES)
    mode = ZoneMode(
        zone=zone,
        reason=values["reason"],
        radius_factor=values["radius_factor"],
        promise_extension_minutes=values["promise_extension_minutes"],
        closed=values["closed"],
        closed_area=checked_area(values["closed_area"]),
        on_overload=values["on_overload"],
        until=checked_until(values["until"], now, services.policy.max_until_s),
        set_at=now,
    )
    saved = await services.zones.set_mode(mode, actor=principal.actor, now=now)
    return web.json_response(zone_mode_json(saved))


async def delete_zone_mode(request: web.Request) -> web.Response:
    """Back to normal for new orders."""
    principal = require_role(request, Role.OPERATOR)
    zone = zone_of(request)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    reason = request.query.get("reason", "cleared by an operator")[: b.MAX_REASON]
    cleared = await services.zones.clear(zone, actor=principal.actor, reason=reason, now=now)
    return web.json_response({"zone": zone, "cleared": cleared})


_ACTIONS = (
    ("hold", hold_order, "Hold an order", b.HOLD, ("not_found", "invalid_transition")),
    ("release", release_order, "Release a held order", b.RELEASE, ("not_found", "invalid_transition")),
    (
        "reassign",
        reassign_order,
        "Reassign an order",
        b.REASSIGN,
        ("not_found", "invalid_transition", "not_reassignable", "courier_unavailable"),
    ),
)
ZONE_MODE_JSON = s.obj(
    ["zone", "reason", "radius_factor", "promise_extension_minutes", "closed", "on_overload"],
    {
        "zone": {"type": "string"},
        "reason": {"type": "string"},
        "radius_factor": {"type": "number"},
        "promise_extension_minutes": {"type": "integer"},
        "closed": {"type": "boolean"},
        "closed_area": {"type": "object", "nullable": True},
        "on_overload": {"type": "string", "enum": list(ON_OVERLOAD)},
        "until": s.NULLABLE_TIMESTAMP,
        "set_at": s.NULLABLE_TIMESTAMP,
    },
)
_ZONE_PATH = "/v1/zones/{zone}/mode"
ENDPOINTS = [
    Endpoint(
        "PUT",
        _ZONE_PATH,
        put_zone_mode,
        "Set a zone's mode",
        "operators",
        roles=("operator",),
        request=b.ZONE_MODE,
        responses={200: ZONE_MODE_JSON},
    ),
    Endpoint(
        "DELETE",
        _ZONE_PATH,
        delete_zone_mode,
        "Clear a zone's mode",
        "operators",
        roles=("operator",),
        responses={
            200: s.obj(["zone", "cleared"], {"zone": {"type": "string"}, "cleared": {"type": "boolean"}})
        },
        query=(
            {
                "name": "reason",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "maxLength": 500},
            },
        ),
    ),
    Endpoint(
        "PUT",
        "/v1/stores/{store_id}/status",
        put_store_status,
        "Set a store's status",
        "operators",
        roles=("operator", "store"),
        request=b.STORE_STATUS,
        responses={200: s.STORE},
        errors=("not_found",),
    ),
    *(
        Endpoint(
            "POST",
            "/v1/orders/{order_id}/" + name,
            handler,
            summary,
            "operators",
            roles=("operator",),
            request=schema,
            responses={200: ORDER},
            errors=errors,
        )
        for name, handler, summary, schema, errors in _ACTIONS
    ),
]
