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


SUMMARY = s.obj(
    ["at", "backlog", "zones", "at_risk"],
    {
        "at": s.TIMESTAMP,
        "backlog": {"type": "integer"},
        "zones": {"type": "object"},
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
