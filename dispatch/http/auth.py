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
    takes effect at once; in another process within ``ttl_s``).

    Known and unknown digests are cached apart: a flood of random tokens fills (and flushes)
    only the negative cache, so the good tokens stay cached and cheap.
    """

    MAX_ENTRIES = 10_000

    def __init__(self, tokens: PostgresTokenRepository, *, ttl_s: float = 5.0) -> None:
        self._tokens = tokens
        self._ttl_s = ttl_s
        self._known: dict[bytes, tuple[Principal, float]] = {}
        self._unknown: dict[bytes, float] = {}

    async def resolve(self, digest: bytes) -> Principal | None:
        now = time.monotonic()
        hit = self._known.get(digest)
        if hit is not None and hit[1] > now:
            return hit[0]
        miss = self._unknown.get(digest)
        if miss is not None and miss > now:
            return None
        principal = await self._tokens.resolve(digest)
        cache: dict = self._unknown if principal is None else self._known
        if len(cache) > self.MAX_ENTRIES:  # a flood of random tokens must not grow memory
            cache.clear()
        if principal is None:
            self._unknown[digest] = now + self._ttl_s
        else:
            self._known[digest] = (principal, now + self._ttl_s)
        return principal

    def forget(self) -> None:
        self._known.clear()
        self._unknown.clear()


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
