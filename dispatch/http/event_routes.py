"""The events feed: every order event in the order it became visible, for the order system."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import schemas as s
from dispatch.http.auth import require_role
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.keys import SERVICES
from dispatch.orders.events import START, EventCursor

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(
            "invalid", f"limit must be an integer from 1 to {MAX_LIMIT}", fields={"limit": "out of range"}
        )
    return int(raw)


async def list_events(request: web.Request) -> web.Response:
    """Events after a cursor; keep ``next`` and ask again to never miss one."""
    require_role(request, Role.ORDER_SYSTEM, Role.OPERATOR)
    raw = request.query.get("after")
    after = START if raw is None or raw == "" else EventCursor.parse(raw)
    page = await request.app[SERVICES].events.page(after, limit=_limit(request))
    return web.json_response({"events": [e.as_json() for e in page.events], "next": str(page.next)})


ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/events",
        list_events,
        "Order events feed",
        "events",
        roles=("order_system", "operator"),
        responses={200: s.EVENT_PAGE},
        errors=("invalid_cursor",),
        query=(
            {
                "name": "after",
                "in": "query",
                "required": False,
                "description": "the `next` of the previous page; empty or absent: from the start",
                "schema": {"type": "string", "pattern": "^([0-9]{1,19}-[0-9]{1,19})?$"},
            },
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
            },
        ),
    ),
]
