"""Authorization at the edge: a short-lived cache of resolved tokens and the role checks."""

from __future__ import annotations

import time

from aiohttp import web

from dispatch.auth import Principal, Role
from dispatch.http.problems import ApiError
from dispatch.keys import PRINCIPAL
from dispatch.postgres.tokens import PostgresTokenRepository


class TokenAuthenticator:
    """Resolves token digests, caching answers for a few seconds (a revocation in this process
    takes effect at once; in another process within ``ttl_s``)."""

    def __init__(self, tokens: PostgresTokenRepository, *, ttl_s: float = 5.0) -> None:
        self._tokens = tokens
        self._ttl_s = ttl_s
        self._cache: dict[bytes, tuple[Principal | None, float]] = {}

    async def resolve(self, digest: bytes) -> Principal | None:
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        principal = await self._tokens.resolve(digest)
        if len(self._cache) > 10_000:  # a flood of random tokens must not grow memory
            self._cache.clear()
        self._cache[digest] = (principal, now + self._ttl_s)
        return principal

    def forget(self) -> None:
        self._cache.clear()


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
