"""Courier endpoints: registration (operator), shifts, positions, tasks and task events."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.clock import iso
from dispatch.couriers.model import Courier
from dispatch.http import bodies as b
from dispatch.http import schemas as s
from dispatch.http.auth import require_courier, require_role
from dispatch.http.fields import path_id
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.validation import read_json_object
from dispatch.keys import CLOCK, SERVICES
from dispatch.logs import bind_order

COURIER_MAX_BYTES = 16 * 1024
POSITIONS_MAX_BYTES = 256 * 1024



def courier_json(courier: Courier) -> dict:
    return {
        "courier_id": courier.courier_id,
        "name": courier.name,
        "zone": courier.zone,
        "capacity": courier.capacity,
        "on_shift": courier.on_shift,
        "shift_ends_at": iso(courier.shift_ends_at),
        "position": {"lat": courier.lat, "lon": courier.lon} if courier.lat is not None else None,
        "position_at": iso(courier.position_at),
        "route_id": courier.route_id,
    }


def _courier_id(request: web.Request) -> str:
    return path_id(request.match_info, "courier_id")


async def put_courier(request: web.Request) -> web.Response:
    """Register or update a courier (idempotent)."""
    require_role(request, Role.OPERATOR)
    courier_id = _courier_id(request)
    body = b.COURIER_PUT.parse(await read_json_object(request, max_bytes=COURIER_MAX_BYTES))
    services = request.app[SERVICES]
    name, zone = body["name"], body["zone"]
    capacity = body["capacity"] if body["capacity"] is not None else services.policy.default_courier_capacity
    courier, created = await services.couriers.register(
        courier_id, name=name, zone=zone, capacity=capacity, now=request.app[CLOCK].now()
    )
    return web.json_response(courier_json(courier), status=201 if created else 200)


async def get_courier(request: web.Request) -> web.Response:
    """A courier's registration, shift and last position."""
    courier_id = _courier_id(request)
    require_courier(request, courier_id)
    return web.json_response(courier_json(await request.app[SERVICES].couriers.couriers.get(courier_id)))


async def post_shift(request: web.Request) -> web.Response:
    """Start or end a shift; ending it hands unpicked orders back to dispatch."""
    courier_id = _courier_id(request)
    require_courier(request, courier_id)
    body = b.SHIFT.parse(await read_json_object(request, max_bytes=COURIER_MAX_BYTES))
    state, position, ends_at = body["state"], body["position"], body["ends_at"]
    now = request.app[CLOCK].now()
    if ends_at is not None and state == "on" and ends_at <= now:
        raise ApiError(
            "invalid", "ends_at must be in the future", fields={"ends_at": "must be in the future"}
        )
    courier, released = await request.app[SERVICES].couriers.shift(
        courier_id, on=state == "on", lat=position["lat"], lon=position["lon"], ends_at=ends_at, now=now
    )
    return web.json_response({**courier_json(courier), "released_orders": released})


async def post_positions(request: web.Request) -> web.Response:
    """Position reports, one or many."""
    courier_id = _courier_id(request)
    require_courier(request, courier_id)
    body = b.POSITIONS.parse(await read_json_object(request, max_bytes=POSITIONS_MAX_BYTES))
    now = request.app[CLOCK].now()
    positions = [(p["lat"], p["lon"], p["at"] or now) for p in body["positions"]]
    courier = await request.app[SERVICES].couriers.positions(courier_id, positions)
    return web.json_response(
        {"courier_id": courier_id, "accepted": len(positions), "position_at": iso(courier.position_at)},
        status=202,
    )


async def get_tasks(request: web.Request) -> web.Response:
    """The courier's plan: stops in order with planned times and GeoJSON route geometry."""
    courier_id = _courier_id(request)
    require_courier(request, courier_id)
    return web.json_response(await request.app[SERVICES].couriers.tasks(courier_id))


async def post_event(request: web.Request) -> web.Response:
    """A task event: arrived at the store, picked up, delivered, or rejected."""
    courier_id = _courier_id(request)
    require_courier(request, courier_id)
    body = b.COURIER_EVENT.parse(await read_json_object(request, max_bytes=COURIER_MAX_BYTES))
    order_id, kind = body["order_id"], body["type"]
    bind_order(order_id)
    result = await request.app[SERVICES].couriers.event(
        courier_id, order_id, kind, now=request.app[CLOCK].now()
    )
    return web.json_response(result)


COURIER = s.obj(
    ["courier_id", "name", "zone", "capacity", "on_shift"],
    {
        "courier_id": s.ID,
        "name": {"type": "string"},
        "zone": {"type": "string"},
        "capacity": {"type": "integer"},
        "on_shift": {"type": "boolean"},
        "shift_ends_at": s.NULLABLE_TIMESTAMP,
        "position": {**s.LAT_LON, "nullable": True},
        "position_at": s.NULLABLE_TIMESTAMP,
        "route_id": {"type": "integer", "nullable": True},
    },
)
LINESTRING = s.obj(
    ["type", "coordinates"],
    {"type": {"type": "string", "enum": ["LineString"]}, "coordinates": s.array(s.array({"type": "number"}))},
)
TASKS = s.obj(
    ["courier_id", "stops"],
    {
        "courier_id": s.ID,
        "route_id": {"type": "integer", "nullable": True},
        "store_id": s.ID,
        "stops": s.array(
            s.obj(
                ["kind", "order_ids", "location"],
                {
                    "kind": {"type": "string", "enum": ["pickup", "dropoff", "reposition"]},
                    "store_id": s.ID,
                    "order_ids": s.array(s.ID),
                    "location": s.LAT_LON,
                    "planned_at": s.NULLABLE_TIMESTAMP,
                    "promised_by": s.TIMESTAMP,
                    "route": {**LINESTRING, "nullable": True},
                },
            )
        ),
    },
)
_PATH = "/v1/couriers/{courier_id}"
_COURIER_ROLES = ("courier", "operator")
ENDPOINTS = [
    Endpoint(
        "PUT",
        _PATH,
        put_courier,
        "Register or update a courier",
        "couriers",
        roles=("operator",),
        request=b.COURIER_PUT,
        responses={200: COURIER, 201: COURIER},
    ),
    Endpoint(
        "GET",
        _PATH,
        get_courier,
        "Read a courier",
        "couriers",
        roles=_COURIER_ROLES,
        responses={200: COURIER},
        errors=("not_found",),
    ),
    Endpoint(
        "POST",
        _PATH + "/shift",
        post_shift,
        "Start or end a shift",
        "couriers",
        roles=_COURIER_ROLES,
        request=b.SHIFT,
        responses={
            200: {**COURIER, "properties": {**COURIER["properties"], "released_orders": s.array(s.ID)}}
        },
        errors=("not_found",),
    ),
    Endpoint(
        "POST",
        _PATH + "/positions",
        post_positions,
        "Report positions",
        "couriers",
        roles=_COURIER_ROLES,
        request=b.POSITIONS,
        errors=("not_found",),
        responses={
            202: s.obj(
                ["courier_id", "accepted"],
                {"courier_id": s.ID, "accepted": {"type": "integer"}, "position_at": s.NULLABLE_TIMESTAMP},
            )
        },
    ),
    Endpoint(
        "GET",
        _PATH + "/tasks",
        get_tasks,
        "The courier's current plan",
        "couriers",
        roles=_COURIER_ROLES,
        responses={200: TASKS},
        errors=("not_found",),
    ),
    Endpoint(
        "POST",
        _PATH + "/events",
        post_event,
        "Report a task event",
        "couriers",
        roles=_COURIER_ROLES,
        request=b.COURIER_EVENT,
        errors=("not_found", "invalid_transition"),
        responses={
            200: s.obj(
                ["order_id", "status"],
                {"order_id": s.ID, "status": {"type": "string"}, "released": s.array(s.ID)},
            )
        },
    ),
]
