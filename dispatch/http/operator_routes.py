"""Operators and stores steer (DESIGN.md section 14): order hold / release / reassign, store
status, zone modes."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.catalog.zones import ON_OVERLOAD, ZoneMode
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.openapi import Endpoint
from dispatch.http.order_routes import ORDER, order_id_of, order_json
from dispatch.http.problems import ApiError
from dispatch.http.store_routes import store_id_of, store_json
from dispatch.http.times import iso
from dispatch.http.validation import FieldReader, read_json_object
from dispatch.keys import CLOCK, SERVICES
from stores.model import STORE_STATES, StoreStatus

ACTION_MAX_BYTES = 8 * 1024
MAX_REASON = 500
MAX_EXTRA_PICK_MINUTES = 120
MAX_ZONE = 64
MAX_AREA_POINTS = 2000
AREA_MAX_BYTES = 256 * 1024


def read_reason(body: FieldReader) -> str:
    return body.string("reason", max_length=MAX_REASON) or ""


def read_until(body: FieldReader, now: datetime, max_ahead_s: float) -> datetime | None:
    """An optional end, strictly in the future and at most ``max_ahead_s`` away."""
    until = body.timestamp("until", required=False)
    if until is not None and not now < until <= now + timedelta(seconds=max_ahead_s):
        body.fail("until", f"must be after now and at most {max_ahead_s / 3600:g} hours ahead")
        return None
    return until


async def hold_order(request: web.Request) -> web.Response:
    """Keep an order out of dispatch (off its route if not picked up); its promise keeps running."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    body = FieldReader(await read_json_object(request, max_bytes=ACTION_MAX_BYTES))
    until = read_until(body, now, services.policy.max_until_s)
    reason = read_reason(body)
    body.done()
    order = await services.order_actions.hold(
        order_id_of(request), until=until, now=now, actor=principal.actor, reason=reason
    )
    return web.json_response(order_json(order))


async def release_order(request: web.Request) -> web.Response:
    """Give a held order back to dispatch."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    body = FieldReader(await read_json_object(request, max_bytes=ACTION_MAX_BYTES))
    reason = read_reason(body)
    body.done()
    order = await services.order_actions.release(
        order_id_of(request), now=now, actor=principal.actor, reason=reason
    )
    return web.json_response(order_json(order))


async def reassign_order(request: web.Request) -> web.Response:
    """Move an order not yet picked up to a named courier (next round), or back to the pool."""
    principal = require_role(request, Role.OPERATOR)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    body = FieldReader(await read_json_object(request, max_bytes=ACTION_MAX_BYTES))
    if "courier_id" not in body.body:
        body.fail("courier_id", "is required (null sends the order back to the pool)")
    courier_id = body.identifier("courier_id", required=False)
    reason = read_reason(body)
    body.done()
    order = await services.order_actions.reassign(
        order_id_of(request), courier_id=courier_id, now=now, actor=principal.actor, reason=reason
    )
    return web.json_response(order_json(order))


async def put_store_status(request: web.Request) -> web.Response:
    """Online, busy (extra pick minutes) or paused, until a time; by an operator or the store itself."""
    store_id = store_id_of(request)
    principal = require_store(request, store_id)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    body = FieldReader(await read_json_object(request, max_bytes=ACTION_MAX_BYTES))
    state = body.choice("status", STORE_STATES)
    extra = body.number("extra_pick_minutes", required=False, minimum=0, maximum=MAX_EXTRA_PICK_MINUTES)
    if extra and state != "busy":
        body.fail("extra_pick_minutes", "is only for a busy store")
    until = read_until(body, now, services.policy.max_until_s)
    reason = read_reason(body)
    body.done()
    status = StoreStatus(state or "online", extra or 0.0, until, reason, now)
    store = await services.stores.set_status(store_id, status, actor=principal.actor, now=now)
    return web.json_response(store_json(store))


def zone_of(request: web.Request) -> str:
    zone = request.match_info["zone"]
    if not 1 <= len(zone) <= MAX_ZONE or not zone.strip():
        raise ApiError("invalid", f"zone must be 1 to {MAX_ZONE} characters", fields={"zone": "bad length"})
    return zone


def read_closed_area(body: FieldReader) -> dict | None:
    """A GeoJSON Polygon (at most MAX_AREA_POINTS positions), valid for shapely, or None."""
    raw = body.body.get("closed_area")
    if raw is None:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("coordinates"), list):
        body.fail("closed_area", "must be a GeoJSON Polygon")
        return None
    points = sum(len(ring) for ring in raw["coordinates"] if isinstance(ring, list))
    if points > MAX_AREA_POINTS:
        body.fail("closed_area", f"must have at most {MAX_AREA_POINTS} positions")
        return None
    try:
        ZoneMode.polygon(raw)
    except (ValueError, TypeError, AttributeError, IndexError) as exc:
        body.fail("closed_area", f"is not a usable polygon ({str(exc)[:80]})")
        return None
    return raw


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
    body = FieldReader(await read_json_object(request, max_bytes=AREA_MAX_BYTES))
    factor = body.number("radius_factor", required=False, minimum=0.2, maximum=1.0, default=1.0)
    extension = body.integer("promise_extension_minutes", required=False, minimum=0, maximum=60, default=0)
    closed = body.body.get("closed", False)
    if not isinstance(closed, bool):
        body.fail("closed", "must be true or false")
    area = read_closed_area(body)
    on_overload = body.choice("on_overload", ON_OVERLOAD, required=False) or "accept"
    until = read_until(body, now, services.policy.max_until_s)
    reason = read_reason(body)
    body.done()
    mode = ZoneMode(
        zone=zone, reason=reason, radius_factor=factor or 1.0, promise_extension_minutes=extension or 0,
        closed=bool(closed), closed_area=area, on_overload=on_overload, until=until, set_at=now,
    )  # fmt: skip
    saved = await services.zones.set_mode(mode, actor=principal.actor, now=now)
    return web.json_response(zone_mode_json(saved))


async def delete_zone_mode(request: web.Request) -> web.Response:
    """Back to normal for new orders."""
    principal = require_role(request, Role.OPERATOR)
    zone = zone_of(request)
    services, now = request.app[SERVICES], request.app[CLOCK].now()
    reason = request.query.get("reason", "cleared by an operator")[:MAX_REASON]
    cleared = await services.zones.clear(zone, actor=principal.actor, reason=reason, now=now)
    return web.json_response({"zone": zone, "cleared": cleared})


REASON = {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": r"\S"}
HOLD = s.obj(["reason"], {"until": s.TIMESTAMP, "reason": REASON}, additional=False)
RELEASE = s.obj(["reason"], {"reason": REASON}, additional=False)
REASSIGN = s.obj(
    ["courier_id", "reason"], {"courier_id": {**s.ID, "nullable": True}, "reason": REASON}, additional=False
)
_ACTIONS = (
    ("hold", hold_order, "Hold an order", HOLD, ("not_found", "invalid_transition")),
    ("release", release_order, "Release a held order", RELEASE, ("not_found", "invalid_transition")),
    (
        "reassign",
        reassign_order,
        "Reassign an order",
        REASSIGN,
        ("not_found", "invalid_transition", "not_reassignable", "courier_unavailable"),
    ),
)
STORE_STATUS = s.obj(
    ["status", "reason"],
    {
        "status": {"type": "string", "enum": list(STORE_STATES)},
        "extra_pick_minutes": {"type": "number", "minimum": 0, "maximum": MAX_EXTRA_PICK_MINUTES},
        "until": s.TIMESTAMP,
        "reason": REASON,
    },
    additional=False,
)
ZONE_MODE_PUT = s.obj(
    ["reason"],
    {
        "radius_factor": {"type": "number", "minimum": 0.2, "maximum": 1.0},
        "promise_extension_minutes": {"type": "integer", "minimum": 0, "maximum": 60},
        "closed": {"type": "boolean"},
        "closed_area": {"type": "object", "nullable": True, "description": "a GeoJSON Polygon"},
        "on_overload": {"type": "string", "enum": list(ON_OVERLOAD)},
        "until": s.TIMESTAMP,
        "reason": REASON,
    },
    additional=False,
)
ZONE_MODE = s.obj(
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
        request=ZONE_MODE_PUT,
        responses={200: ZONE_MODE},
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
        request=STORE_STATUS,
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
