"""PostgreSQL adapter for API tokens (stored as SHA-256 digests, looked up by digest)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from dispatch.access.tokens import NewToken, Principal, Role, TokenRecord, hash_token


class PostgresTokenRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(
        self,
        token: NewToken,
        *,
        role: Role,
        store_id: str | None,
        courier_id: str | None,
        label: str | None,
        now: datetime,
    ) -> None:
        await self._pool.execute(
            "INSERT INTO tokens (token_id, token_hash, role, store_id, courier_id, label, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7)",
            token.token_id,
            token.digest,
            role.value,
            store_id,
            courier_id,
            label,
            now,
        )

    async def ensure_static(self, secret: str, *, role: Role, now: datetime) -> None:
        """Make a configured secret (FLASHDISPATCH_OPERATOR_TOKEN) a valid token.

        Processes starting together (serve --workers, a dispatcher beside the API) all run this;
        a bare ON CONFLICT absorbs the race on either unique key (token_id and token_hash).
        """
        await self._pool.execute(
            "INSERT INTO tokens (token_id, token_hash, role, label, created_at)"
            " VALUES ($1, $2, $3, 'from environment', $4) ON CONFLICT DO NOTHING",
            "tok_env_" + hash_token(secret).hex()[:12],
            hash_token(secret),
            role.value,
            now,
        )

    async def resolve(self, digest: bytes) -> Principal | None:
        row = await self._pool.fetchrow(
            "SELECT token_id, role, store_id, courier_id FROM tokens"
            " WHERE token_hash = $1 AND revoked_at IS NULL",
            digest,
        )
        if row is None:
            return None
        return Principal(row["token_id"], Role(row["role"]), row["store_id"], row["courier_id"])

    async def active(self) -> dict[bytes, Principal]:
        """Every token that is not revoked, by digest (the authenticator keeps this in memory)."""
        rows = await self._pool.fetch(
            "SELECT token_hash, token_id, role, store_id, courier_id FROM tokens WHERE revoked_at IS NULL"
        )
        return {
            bytes(r["token_hash"]): Principal(r["token_id"], Role(r["role"]), r["store_id"], r["courier_id"])
            for r in rows
        }

    async def list(self) -> list[TokenRecord]:
        rows = await self._pool.fetch(
            "SELECT token_id, role, store_id, courier_id, label, created_at, revoked_at"
            " FROM tokens ORDER BY created_at, token_id"
        )
        return [
            TokenRecord(
                r["token_id"], Role(r["role"]), r["store_id"], r["courier_id"], r["label"],
                r["created_at"], r["revoked_at"],
            )
            for r in rows
        ]

    async def revoke(self, token_id: str, *, now: datetime) -> bool:
        """Revoke once; True if the token exists (revoking twice is harmless)."""
        row = await self._pool.fetchrow(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE token_id = $1"
            " RETURNING token_id",
            token_id,
            now,
        )
        return row is not None
