"""The token authenticator answers from memory: good tokens and floods of bad ones cost no query."""

from __future__ import annotations

import asyncio
import os

from dispatch.access.authenticator import TokenAuthenticator
from dispatch.access.tokens import Principal, Role, hash_token


class FakeTokens:
    """In-memory stand-in for the token repository port, counting queries."""

    def __init__(self, secrets: dict[str, Principal]) -> None:
        self.rows = {hash_token(s): p for s, p in secrets.items()}
        self.queries = 0

    async def active(self) -> dict[bytes, Principal]:
        self.queries += 1
        await asyncio.sleep(0)
        return dict(self.rows)


async def test_flood_of_unknown_tokens_costs_at_most_one_reload():
    good = Principal("t1", Role.ORDER_SYSTEM)
    tokens = FakeTokens({"good": good})
    auth = TokenAuthenticator(tokens, ttl_s=60, miss_refresh_s=60)
    assert await auth.resolve(hash_token("good")) == good
    flood = await asyncio.gather(*(auth.resolve(hash_token(os.urandom(16).hex())) for _ in range(500)))
    assert flood == [None] * 500
    assert tokens.queries == 1
    assert await auth.resolve(hash_token("good")) == good


async def test_new_token_is_seen_after_the_miss_refresh_and_revocation_after_forget():
    tokens = FakeTokens({})
    auth = TokenAuthenticator(tokens, ttl_s=60, miss_refresh_s=0)
    assert await auth.resolve(hash_token("later")) is None
    tokens.rows[hash_token("later")] = Principal("t2", Role.COURIER, courier_id="c1")
    assert (await auth.resolve(hash_token("later"))).courier_id == "c1"  # a miss reloads
    del tokens.rows[hash_token("later")]
    auth.forget()
    assert await auth.resolve(hash_token("later")) is None


async def test_concurrent_reloads_share_one_query():
    tokens = FakeTokens({"a": Principal("t1", Role.OPERATOR)})
    auth = TokenAuthenticator(tokens, ttl_s=60)
    await asyncio.gather(*(auth.resolve(hash_token("a")) for _ in range(50)))
    assert tokens.queries == 1
