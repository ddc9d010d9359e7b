"""Token resolution: an in-memory copy of the active tokens, reloaded on a schedule."""

from __future__ import annotations

import asyncio
import math
import time

from dispatch.access.ports import ActiveTokens
from dispatch.access.tokens import Principal


class TokenAuthenticator:
    """Resolves token digests from an in-memory copy of the active tokens.

    The copy is reloaded (one query) when it is older than ``ttl_s``, and on a miss when it is
    older than ``miss_refresh_s``; concurrent reloads share one query. So a good token costs a
    dict lookup, a flood of random tokens costs at most one query per ``miss_refresh_s``, a token
    created in another process works within ``miss_refresh_s``, and a revocation in another
    process applies within ``ttl_s`` (in this process at once: ``forget``). Memory grows with
    the number of tokens issued (about 200 bytes each).
    """

    def __init__(
        self, tokens: ActiveTokens, *, ttl_s: float = 5.0, miss_refresh_s: float = 1.0
    ) -> None:
        self._tokens = tokens
        self._ttl_s = ttl_s
        self._miss_refresh_s = miss_refresh_s
        self._active: dict[bytes, Principal] = {}
        self._loaded_at = -math.inf
        self._reloading: asyncio.Future[None] | None = None

    async def resolve(self, digest: bytes) -> Principal | None:
        if time.monotonic() - self._loaded_at > self._ttl_s:
            await self._reload()
        principal = self._active.get(digest)
        if principal is None and time.monotonic() - self._loaded_at > self._miss_refresh_s:
            await self._reload()
            principal = self._active.get(digest)
        return principal

    async def _reload(self) -> None:
        if self._reloading is not None:  # join the query already in flight
            await asyncio.shield(self._reloading)
            return
        self._reloading = asyncio.get_running_loop().create_future()
        try:
            self._active = await self._tokens.active()
            self._loaded_at = time.monotonic()
            self._reloading.set_result(None)
        except BaseException as exc:
            self._reloading.set_exception(exc)
            self._reloading.exception()  # retrieved: joiners re-raise it
            raise
        finally:
            self._reloading = None

    def forget(self) -> None:
        """Reload before the next answer (a token was created or revoked here)."""
        self._loaded_at = -math.inf
