"""Authorization at the edge: the role and scope checks a handler asks for."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Principal, Role
from dispatch.http.problems import ApiError
from dispatch.keys import PRINCIPAL


def principal_of(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require_role(request: web.Request, *roles: Role) -> Principal:
    principal = principal_of(request)
    if principal.role not in roles:
        raise ApiError(
            "forbidden",
            f"a {principal.role.value} token cannot do this; it needs one of: "
            + ", ".join(r.value for r in roles),
        )
    return principal


def require_store(request: web.Request, store_id: str, *, also: tuple[Role, ...] = ()) -> Principal:
    """Operator, the store itself, or one of ``also`` (for reads)."""
    principal = principal_of(request)
    if principal.can_act_for_store(store_id) or principal.role in also:
        return principal
    raise ApiError("forbidden", f"this token may not act for store {store_id!r}")


def require_courier(request: web.Request, courier_id: str) -> Principal:
    principal = principal_of(request)
    if principal.can_act_for_courier(courier_id):
        return principal
    raise ApiError("forbidden", f"this token may not act for courier {courier_id!r}")
