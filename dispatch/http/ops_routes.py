"""Operator endpoints: the live summary of backlog, couriers, outcomes and orders at risk."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import schemas as s
from dispatch.http.auth import require_role
from dispatch.http.openapi import Endpoint
from dispatch.keys import CLOCK, SERVICES


async def ops_summary(request: web.Request) -> web.Response:
    """Backlog by zone and stage, couriers by state, outcomes, and the orders at risk."""
    require_role(request, Role.OPERATOR)
    summary = await request.app[SERVICES].ops.summary(now=request.app[CLOCK].now())
    return web.json_response(summary)


_COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
ZONE_SUMMARY = s.obj(
    ["orders", "outcomes", "couriers"],
    {
        "orders": {**_COUNTS, "description": "legs by status (an order split in two counts twice)"},
        "outcomes": {**_COUNTS, "description": "orders by outcome, all time"},
        "couriers": {**_COUNTS, "description": "couriers by state: off, idle, busy"},
        "on_time_share_30m": {
            "type": "number",
            "description": "on time among the orders judged in the last 30 minutes (absent when none was)",
        },
    },
)
SUMMARY = s.obj(
    ["at", "backlog", "zones", "at_risk"],
    {
        "at": s.TIMESTAMP,
        "backlog": {"type": "integer"},
        "zones": {"type": "object", "additionalProperties": ZONE_SUMMARY},
        "failure_reasons": {"type": "object"},
        "at_risk": s.array({"type": "object"}),
        "held": s.array({"type": "object"}),
        "store_statuses": s.array({"type": "object"}),
        "zone_modes": s.array({"type": "object"}),
    },
)
ENDPOINTS = [
    Endpoint(
        "GET",
        "/v1/ops/summary",
        ops_summary,
        "Operations summary",
        "ops",
        roles=("operator",),
        responses={200: SUMMARY},
    ),
]
