"""Order endpoints: intake, status and cancellation (order system); the store's work queue."""

from __future__ import annotations

from datetime import datetime, timedelta

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import bodies as b
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.fields import path_id, raise_if_invalid
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.validation import read_json_object
from dispatch.http.wire_json import json_response
from dispatch.keys import CLOCK, SERVICES
from dispatch.logs import bind_order
from dispatch.orders.model import Order, OrderRequest, request_digest
from dispatch.settings import Policy

ORDER_MAX_BYTES = 64 * 1024


def order_json(order: Order) -> dict:
    return order.as_json()


def parse_order(body: dict) -> OrderRequest:
    values = b.ORDER_POST.parse(body)
    drop = values["drop_off"]
    return OrderRequest(
        order_id=values["order_id"],
        lines=tuple(sorted((line["sku"], line["quantity"]) for line in values["items"])),
        drop_lat=drop["lat"],
        drop_lon=drop["lon"],
        placed_at=values["placed_at"],
        digest=request_digest(body),
        on_short=values.get("on_short"),
        allow_split=bool(values.get("allow_split")),
    )


def placed_at_problem(placed_at: datetime | None, *, now: datetime, policy: Policy) -> str | None:
    """Why ``placed_at`` lies outside the window around the service's clock, or None (bounds included)."""
    if placed_at is None:
        return None
    earliest = now - timedelta(seconds=policy.placed_at_max_age_s)
    latest = now + timedelta(seconds=policy.placed_at_max_ahead_s)
    if earliest <= placed_at <= latest:
        return None
    return (
        f"must be within {policy.placed_at_max_age_s:g} s before and {policy.placed_at_max_ahead_s:g} s"
        f" after the service's clock ({earliest.isoformat()} to {latest.isoformat()})"
    )


async def post_order(request: web.Request) -> web.Response:
    """Dispatch an order: choose the store, reserve the stock, make the promise."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR)
    body = await read_json_object(request, max_bytes=ORDER_MAX_BYTES)
    if isinstance(body.get("order_id"), str):
        bind_order(body["order_id"][:128])
    order = parse_order(body)
    services = request.app[SERVICES]
    now = request.app[CLOCK].now()
    problem = placed_at_problem(order.placed_at, now=now, policy=services.policy)
    # an order placed earlier is never refused: its retry gets the first answer (or order_id_reused)
    if problem is not None and await services.orders.find_answer(order.order_id) is None:
        raise_if_invalid({"placed_at": problem})
    status, answer = await services.intake.place(order, now=now, actor=principal.actor)
    return json_response(answer, status=status)


def order_id_of(request: web.Request) -> str:
    order_id = path_id(request.match_info, "order_id")
    bind_order(order_id)
    return order_id


async def get_order(request: web.Request) -> web.Response:
    """An order's status, store, courier, promise, prediction and events."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR, Role.STORE)
    order = await request.app[SERVICES].orders.get(order_id_of(request))
    if principal.role is Role.STORE and principal.store_id != order.store_id:
        raise ApiError("forbidden", "this order belongs to another store")
    return web.json_response(order_json(order))


async def cancel_order(request: web.Request) -> web.Response:
    """Cancel before pickup: the reservation is released exactly once."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR)
    services = request.app[SERVICES]
    order = await services.order_flow.cancel(
        order_id_of(request), now=request.app[CLOCK].now(), actor=principal.actor
    )
    return web.json_response(order_json(order))


async def store_orders(request: web.Request) -> web.Response:
    """The store's work queue: its orders in a status (default reserved), oldest first."""
    store_id = path_id(request.match_info, "store_id")
    require_store(request, store_id)
    statuses = request.query.getall("status", ["reserved"])
    allowed = {"reserved", "assigned", "picked_up", "delivered", "cancelled", "failed"}
    if any(x not in allowed for x in statuses):
        raise ApiError(
            "invalid",
            "status must be one of " + ", ".join(sorted(allowed)),
            fields={"status": "unknown value"},
        )
    services = request.app[SERVICES]
    await services.stores.repository.get_store(store_id)  # 404 for an unknown store
    orders = await services.orders.store_queue(store_id, statuses, limit=500)
    return web.json_response({"store_id": store_id, "orders": [order_json(o) for o in orders]})


async def mark_packed(request: web.Request) -> web.Response:
    """The store says the order is packed and ready for the courier."""
    store_id = path_id(request.match_info, "store_id")
    principal = require_store(request, store_id)
    services = request.app[SERVICES]
    order = await services.orders.mark_packed(
        store_id, order_id_of(request), now=request.app[CLOCK].now(), actor=principal.actor
    )
    return web.json_response(order_json(order))


async def post_pick_result(request: web.Request) -> web.Response:
    """What the store's shelf really gave for its leg of the order (DESIGN.md section 15)."""
    store_id = path_id(request.match_info, "store_id")
    principal = require_store(request, store_id)
    shelf = request.app[SERVICES].shelf
    leg = await shelf.leg(order_id_of(request), store_id)  # 404 before the body: which leg comes first
    body = b.PICK_RESULT.parse(await read_json_object(request, max_bytes=ORDER_MAX_BYTES))
    picked = {line["sku"]: line["picked"] for line in body["lines"]}
    answer = await shelf.pick_result(leg, picked, now=request.app[CLOCK].now(), actor=principal.actor)
    return web.json_response(answer)


ITEM = s.obj(["sku", "quantity"], {"sku": s.SKU, "quantity": {"type": "integer"}})
ORDER_PLACED = s.obj(
    ["order_id", "store_id", "status", "promised_by", "predicted_delivery_at"],
    {
        "order_id": s.ID,
        "store_id": s.ID,
        "status": {"type": "string", "enum": ["reserved"]},
        "promised_by": s.TIMESTAMP,
        "predicted_delivery_at": s.TIMESTAMP,
        "promise_extension_minutes": {"type": "integer", "minimum": 1, "maximum": 60},
        "on_short": {"type": "string", "enum": ["resource", "drop_line", "cancel"]},
        "legs": s.array(s.obj(["store_id", "items"], {"store_id": s.ID, "items": s.array(ITEM)})),
        "tracking_url": {"type": "string", "pattern": "^/t/[A-Za-z0-9_-]{32}$"},
    },
)
ORDER = s.obj(
    [
        "order_id",
        "status",
        "store_id",
        "courier_id",
        "promised_by",
        "predicted_delivery_at",
        "events",
        "items",
        "drop_off",
    ],
    {
        "order_id": s.ID,
        "status": {"type": "string"},
        "store_id": s.ID,
        "courier_id": {"type": "string", "nullable": True},
        "promised_by": s.TIMESTAMP,
        "predicted_delivery_at": s.TIMESTAMP,
        "events": s.array(s.EVENT),
        "items": s.array(ITEM),
        "drop_off": {**s.LAT_LON, "nullable": True},
        "leg": {"type": "integer", "minimum": 1},
        "legs": s.array(
            s.obj(
                ["leg", "store_id", "status", "items"],
                {"leg": {"type": "integer", "minimum": 1}, "store_id": s.ID, "status": {"type": "string"},
                 "items": s.array(ITEM)},
            )
        ),
    },
)
# 409: out_of_stock (with the short lines) or order_id_reused (without)
CONFLICT = s.obj(
    ["error", "detail"],
    {
        "error": {"type": "string", "enum": ["out_of_stock", "order_id_reused"]},
        "detail": {"type": "string"},
        "store_id": s.ID,
        "lines": s.array(
            s.obj(
                ["sku", "requested", "available"],
                {"sku": s.SKU, "requested": {"type": "integer"}, "available": {"type": "integer"}},
            )
        ),
    },
)
PICK_ANSWER = s.obj(
    ["order_id", "leg", "store_id", "missing", "action"],
    {
        "order_id": s.ID,
        "leg": {"type": "integer"},
        "store_id": s.ID,
        "missing": s.array(ITEM),
        "action": {"type": "string", "enum": ["none", "resourced", "dropped", "cancelled"]},
        "leg_added": {"type": "object", "nullable": True},
    },
)
_ORDER_PATH = "/v1/orders/{order_id}"
ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/orders",
        post_order,
        "Dispatch an order",
        "orders",
        roles=("order_system", "operator"),
        request=b.ORDER_POST,
        responses={201: ORDER_PLACED, 409: CONFLICT},
        errors=("out_of_stock", "order_id_reused", "out_of_area"),
    ),
    Endpoint(
        "GET",
        _ORDER_PATH,
        get_order,
        "Read an order",
        "orders",
        roles=("order_system", "operator", "store"),
        responses={200: ORDER},
        errors=("not_found",),
    ),
    Endpoint(
        "POST",
        _ORDER_PATH + "/cancel",
        cancel_order,
        "Cancel an order",
        "orders",
        roles=("order_system", "operator"),
        responses={200: ORDER},
        errors=("not_found", "not_cancellable"),
    ),
    Endpoint(
        "GET",
        "/v1/stores/{store_id}/orders",
        store_orders,
        "The store's work queue",
        "stores",
        roles=("store", "operator"),
        responses={200: s.obj(["store_id", "orders"], {"store_id": s.ID, "orders": s.array(ORDER)})},
        errors=("not_found",),
        query=(
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "string",
                    "enum": ["reserved", "assigned", "picked_up", "delivered", "cancelled", "failed"],
                },
            },
        ),
    ),
    Endpoint(
        "POST",
        "/v1/stores/{store_id}/orders/{order_id}/pick-result",
        post_pick_result,
        "Report what the shelf gave",
        "stores",
        roles=("store", "operator"),
        request=b.PICK_RESULT,
        responses={200: PICK_ANSWER},
        errors=("not_found", "invalid_transition", "pick_result_conflict", "invalid_pick"),
    ),
    Endpoint(
        "POST",
        "/v1/stores/{store_id}/orders/{order_id}/packed",
        mark_packed,
        "Mark an order packed",
        "stores",
        roles=("store", "operator"),
        responses={200: ORDER},
        errors=("not_found", "invalid_transition"),
    ),
]
