"""Order endpoints: intake, status and cancellation (order system); the store's work queue."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.validation import MAX_QUANTITY, MAX_SKU_LENGTH, FieldReader, read_json_object
from dispatch.keys import CLOCK, SERVICES
from dispatch.logs import bind_order
from dispatch.orders.model import Order, OrderRequest, request_digest

ORDER_MAX_BYTES = 64 * 1024
MAX_LINES = 100


def order_json(order: Order) -> dict:
    return order.as_json()


def parse_order(body: dict) -> OrderRequest:
    reader = FieldReader(body)
    order_id = reader.identifier("order_id")
    raw = reader.array("items", max_items=MAX_LINES)
    lines: dict[str, int] = {}
    if raw is not None:
        if not raw:
            reader.fail("items", "must have at least one line")
        for i, entry in enumerate(raw):
            line = reader.item("items", i, entry)
            if line is None:
                continue
            sku = line.string("sku", max_length=MAX_SKU_LENGTH)
            qty = line.integer("quantity", minimum=1, maximum=MAX_QUANTITY)
            if sku is not None and qty is not None:
                if sku in lines:
                    line.fail("sku", "appears twice in the order")
                lines[sku] = qty
    drop = reader.location("drop_off")
    placed_at = reader.timestamp("placed_at", required=False)
    reader.done()
    assert order_id is not None and drop is not None  # done() raised otherwise
    return OrderRequest(
        order_id=order_id,
        lines=tuple(sorted(lines.items())),
        drop_lat=drop[0],
        drop_lon=drop[1],
        placed_at=placed_at,
        digest=request_digest(body),
    )


async def post_order(request: web.Request) -> web.Response:
    """Dispatch an order: choose the store, reserve the stock, make the promise."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR)
    body = await read_json_object(request, max_bytes=ORDER_MAX_BYTES)
    if isinstance(body.get("order_id"), str):
        bind_order(body["order_id"][:128])
    order = parse_order(body)
    services = request.app[SERVICES]
    status, body = await services.intake.place(
        order, now=request.app[CLOCK].now(), actor=principal.actor
    )
    return web.json_response(body, status=status)


def _order_id(request: web.Request) -> str:
    order_id = request.match_info["order_id"]
    if len(order_id) > 128:
        raise ApiError("invalid", "order_id is at most 128 characters", fields={"order_id": "too long"})
    bind_order(order_id)
    return order_id


async def get_order(request: web.Request) -> web.Response:
    """An order's status, store, courier, promise, prediction and events."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR, Role.STORE)
    order = await request.app[SERVICES].orders.get(_order_id(request))
    if principal.role is Role.STORE and principal.store_id != order.store_id:
        raise ApiError("forbidden", "this order belongs to another store")
    return web.json_response(order_json(order))


async def cancel_order(request: web.Request) -> web.Response:
    """Cancel before pickup: the reservation is released exactly once."""
    principal = require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR)
    services = request.app[SERVICES]
    order = await services.order_flow.cancel(
        _order_id(request), now=request.app[CLOCK].now(), actor=principal.actor
    )
    return web.json_response(order_json(order))


async def store_orders(request: web.Request) -> web.Response:
    """The store's work queue: its orders in a status (default reserved), oldest first."""
    store_id = request.match_info["store_id"]
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
    store_id = request.match_info["store_id"]
    principal = require_store(request, store_id)
    services = request.app[SERVICES]
    order = await services.orders.mark_packed(
        store_id, _order_id(request), now=request.app[CLOCK].now(), actor=principal.actor
    )
    return web.json_response(order_json(order))


ITEM = s.obj(["sku", "quantity"], {"sku": s.SKU, "quantity": {"type": "integer", "minimum": 1}})
ORDER_POST = s.obj(
    ["order_id", "items", "drop_off"],
    {
        "order_id": {**s.ID, "pattern": "^[^/\\s]+$"},
        "items": {**s.array(ITEM, max_items=MAX_LINES), "minItems": 1},
        "drop_off": s.LAT_LON,
        "placed_at": s.TIMESTAMP,
    },
)
ORDER_PLACED = s.obj(
    ["order_id", "store_id", "status", "promised_by", "predicted_delivery_at"],
    {
        "order_id": s.ID,
        "store_id": s.ID,
        "status": {"type": "string", "enum": ["reserved"]},
        "promised_by": s.TIMESTAMP,
        "predicted_delivery_at": s.TIMESTAMP,
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
    },
)
OUT_OF_STOCK = s.obj(
    ["error", "detail", "lines"],
    {
        "error": {"type": "string"},
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
_ORDER_PATH = "/v1/orders/{order_id}"
ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/orders",
        post_order,
        "Dispatch an order",
        "orders",
        roles=("order_system", "operator"),
        request=ORDER_POST,
        responses={201: ORDER_PLACED, 409: OUT_OF_STOCK},
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
        "/v1/stores/{store_id}/orders/{order_id}/packed",
        mark_packed,
        "Mark an order packed",
        "stores",
        roles=("store", "operator"),
        responses={200: ORDER},
        errors=("not_found", "invalid_transition"),
    ),
]
