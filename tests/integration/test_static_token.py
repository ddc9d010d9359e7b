"""The environment's operator token is written by every process that starts; they start together."""

from __future__ import annotations

import asyncio

from dispatch.access.tokens import Role
from dispatch.postgres.database import create_pool
from dispatch.postgres.tokens import PostgresTokenRepository
from tests.conftest import T0


async def test_processes_starting_together_all_make_the_static_token_valid(db, database_url):
    # CI saw a dispatcher starting beside an API process die on tokens_pkey: the insert only
    # absorbed a conflict on token_hash, and the loser of the race hit token_id first.
    async with await create_pool(database_url, max_size=16) as pool:
        tokens = PostgresTokenRepository(pool)
        for _ in range(5):
            await db.execute("DELETE FROM tokens")
            await asyncio.gather(*(tokens.ensure_static("s3cret", role=Role.OPERATOR, now=T0) for _ in range(16)))
            rows = await db.fetch("SELECT token_id, role, label FROM tokens")
            assert [tuple(r) for r in rows] == [(rows[0]["token_id"], "operator", "from environment")]
            assert rows[0]["token_id"].startswith("tok_env_")
