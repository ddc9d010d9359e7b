"""Token endpoints: operators mint, list and revoke API tokens."""

from __future__ import annotations

from aiohttp import web

from dispatch.access.tokens import Role, check_scope, mint_token
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


async def create_token(request: web.Request) -> web.Response:
    """Mint a token; the secret is shown once."""
    require_role(request, Role.OPERATOR)
    body = b.TOKEN_CREATE.parse(await read_json_object(request, max_bytes=4096))
    role, store_id, courier_id, label = body["role"], body["store_id"], body["courier_id"], body["label"]
    problem = check_scope(Role(role), store_id, courier_id)
    if problem:
        raise ApiError("invalid", problem, fields={"role": problem})
    token = mint_token()
    services = request.app[SERVICES]
    now = request.app[CLOCK].now()
    await services.tokens.create(
        token, role=Role(role), store_id=store_id, courier_id=courier_id, label=label, now=now
    )
    services.authenticator.forget()  # usable at once from this process
    return web.json_response(
        {
            "token": token.secret,
            "token_id": token.token_id,
            "role": role,
            "store_id": store_id,
            "courier_id": courier_id,
            "label": label,
            "created_at": now.isoformat(),
            "revoked_at": None,
        },
        status=201,
    )


async def list_tokens(request: web.Request) -> web.Response:
    """Every token, without secrets."""
    require_role(request, Role.OPERATOR)
    records = await request.app[SERVICES].tokens.list()
    return web.json_response(
        {
            "tokens": [
                {
                    "token_id": r.token_id,
                    "role": r.role.value,
                    "store_id": r.store_id,
                    "courier_id": r.courier_id,
                    "label": r.label,
                    "created_at": iso(r.created_at),
                    "revoked_at": iso(r.revoked_at),
                }
                for r in records
            ]
        }
    )


async def revoke_token(request: web.Request) -> web.Response:
    """Revoke a token at once (idempotent)."""
    require_role(request, Role.OPERATOR)
    token_id = path_id(request.match_info, "token_id")
    services = request.app[SERVICES]
    if not await services.tokens.revoke(token_id, now=request.app[CLOCK].now()):
        raise NotFound(f"no token {token_id!r}")
    services.authenticator.forget()
    return web.json_response({"token_id": token_id, "revoked": True})


ENDPOINTS = [
    Endpoint(
        "POST", "/v1/tokens", create_token, "Create a token", "tokens", roles=("operator",),
        request=b.TOKEN_CREATE, responses={201: s.TOKEN_CREATED},
    ),
    Endpoint(
        "GET", "/v1/tokens", list_tokens, "List tokens", "tokens", roles=("operator",),
        responses={200: s.TOKEN_LIST},
    ),
    Endpoint(
        "DELETE", "/v1/tokens/{token_id}", revoke_token, "Revoke a token", "tokens",
        roles=("operator",), errors=("not_found",),
        responses={200: s.obj(["token_id", "revoked"], {"token_id": s.ID, "revoked": {"type": "boolean"}})},
    ),
]
