"""Webhook endpoints (operator): create with a secret shown once, list, delete; deliveries, retry."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.clock import iso
from dispatch.errors import NotFound
from dispatch.http import bodies as b
from dispatch.http import schemas as s
from dispatch.http.auth import require_role
from dispatch.http.fields import path_id
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.validation import read_json_object
from dispatch.keys import CLOCK, SERVICES
from dispatch.webhooks.model import Delivery, DeliveryStatus
from dispatch.webhooks.model import Endpoint as Webhook

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100



def webhook_json(webhook: Webhook) -> dict:
    return {
        "webhook_id": webhook.webhook_id,
        "url": webhook.url,
        "event_types": list(webhook.event_types) if webhook.event_types is not None else None,
        "state": webhook.state.value,
        "created_at": iso(webhook.created_at),
        "disabled_at": iso(webhook.disabled_at),
        "disabled_reason": webhook.disabled_reason,
    }


def delivery_json(delivery: Delivery) -> dict:
    return {
        "delivery_id": str(delivery.delivery_id),
        "webhook_id": delivery.webhook_id,
        "event_id": str(delivery.event_id),
        "order_id": delivery.order_id,
        "sequence": delivery.sequence,
        "event_type": delivery.event_type,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at)
        if delivery.status is DeliveryStatus.PENDING
        else None,
        "last_attempt_at": iso(delivery.last_attempt_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
        "delivered_at": iso(delivery.delivered_at),
        "created_at": iso(delivery.created_at),
    }


async def create_webhook(request: web.Request) -> web.Response:
    """Register an endpoint; its ``whsec_`` secret is in this answer only."""
    require_role(request, Role.OPERATOR)
    values = b.WEBHOOK_CREATE.parse(await read_json_object(request, max_bytes=16 * 1024))
    url, types = values["url"], values["event_types"]
    webhook = await request.app[SERVICES].webhooks.create(url, types, now=request.app[CLOCK].now())
    return web.json_response({**webhook_json(webhook), "secret": webhook.secret}, status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    """Every endpoint, without secrets."""
    require_role(request, Role.OPERATOR)
    webhooks = await request.app[SERVICES].webhooks.all()
    return web.json_response({"webhooks": [webhook_json(w) for w in webhooks]})


async def delete_webhook(request: web.Request) -> web.Response:
    """Remove an endpoint and its deliveries."""
    require_role(request, Role.OPERATOR)
    webhook_id = _webhook_id(request)
    await request.app[SERVICES].webhooks.delete(webhook_id)
    return web.json_response({"webhook_id": webhook_id, "deleted": True})


async def list_deliveries(request: web.Request) -> web.Response:
    """An endpoint's deliveries, newest first, optionally of one status."""
    require_role(request, Role.OPERATOR)
    raw = request.query.get("status")
    statuses = [x.value for x in DeliveryStatus]
    if raw is not None and raw not in statuses:
        raise ApiError(
            "invalid", "status must be one of " + ", ".join(statuses), fields={"status": "unknown value"}
        )
    limit = request.query.get("limit", str(DEFAULT_LIMIT))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        raise ApiError(
            "invalid", f"limit must be an integer from 1 to {MAX_LIMIT}", fields={"limit": "out of range"}
        )
    found = await request.app[SERVICES].webhooks.deliveries(
        _webhook_id(request), status=DeliveryStatus(raw) if raw else None, limit=int(limit)
    )
    return web.json_response({"deliveries": [delivery_json(d) for d in found]})


async def retry_delivery(request: web.Request) -> web.Response:
    """A failed delivery tries again (a fresh retry schedule)."""
    require_role(request, Role.OPERATOR)
    webhook_id = _webhook_id(request)
    raw = path_id(request.match_info, "delivery_id")
    if not raw.isdigit() or len(raw) > 18:  # ids are numbers: any other is simply no delivery of ours
        raise NotFound(f"webhook {webhook_id!r} has no delivery {raw!r}")
    delivery = await request.app[SERVICES].webhooks.retry(webhook_id, int(raw), now=request.app[CLOCK].now())
    return web.json_response(delivery_json(delivery))


def _webhook_id(request: web.Request) -> str:
    return path_id(request.match_info, "webhook_id")


WEBHOOK = s.obj(
    ["webhook_id", "url", "state"],
    {
        "webhook_id": s.ID,
        "url": {"type": "string"},
        "event_types": {"type": "array", "items": {"type": "string"}, "nullable": True},
        "state": {"type": "string", "enum": ["active", "disabled"]},
        "created_at": s.TIMESTAMP,
        "disabled_at": s.NULLABLE_TIMESTAMP,
        "disabled_reason": {"type": "string", "nullable": True},
    },
)
WEBHOOK_CREATED = s.obj(
    ["webhook_id", "url", "state", "secret"], {**WEBHOOK["properties"], "secret": {"type": "string"}}
)
DELIVERY = s.obj(
    ["delivery_id", "webhook_id", "event_id", "order_id", "sequence", "status", "attempts"],
    {
        "delivery_id": {"type": "string"},
        "webhook_id": s.ID,
        "event_id": {"type": "string"},
        "order_id": s.ID,
        "sequence": {"type": "integer"},
        "event_type": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"]},
        "attempts": {"type": "integer"},
        "next_attempt_at": s.NULLABLE_TIMESTAMP,
        "last_attempt_at": s.NULLABLE_TIMESTAMP,
        "last_status": {"type": "integer", "nullable": True},
        "last_error": {"type": "string", "nullable": True},
        "delivered_at": s.NULLABLE_TIMESTAMP,
        "created_at": s.TIMESTAMP,
    },
)

ENDPOINTS = [
    Endpoint(
        "POST",
        "/v1/webhooks",
        create_webhook,
        "Register a webhook endpoint",
        "webhooks",
        roles=("operator",),
        request=b.WEBHOOK_CREATE,
        responses={201: WEBHOOK_CREATED},
    ),
    Endpoint(
        "GET",
        "/v1/webhooks",
        list_webhooks,
        "List webhook endpoints",
        "webhooks",
        roles=("operator",),
        responses={200: s.obj(["webhooks"], {"webhooks": s.array(WEBHOOK)})},
    ),
    Endpoint(
        "DELETE",
        "/v1/webhooks/{webhook_id}",
        delete_webhook,
        "Delete a webhook endpoint",
        "webhooks",
        roles=("operator",),
        errors=("not_found",),
        responses={
            200: s.obj(["webhook_id", "deleted"], {"webhook_id": s.ID, "deleted": {"type": "boolean"}})
        },
    ),
    Endpoint(
        "GET",
        "/v1/webhooks/{webhook_id}/deliveries",
        list_deliveries,
        "List a webhook's deliveries",
        "webhooks",
        roles=("operator",),
        errors=("not_found",),
        responses={200: s.obj(["deliveries"], {"deliveries": s.array(DELIVERY)})},
        query=(
            {
                "name": "status",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": ["pending", "failed", "delivered"]},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
        ),
    ),
    Endpoint(
        "POST",
        "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        retry_delivery,
        "Retry a failed delivery",
        "webhooks",
        roles=("operator",),
        errors=("not_found", "not_retryable"),
        responses={200: DELIVERY},
    ),
]
