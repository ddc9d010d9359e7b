"""The demo's HTTP client: requests to the service's public API, tokens and concurrent calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

import aiohttp

Headers = dict[str, str]
Json = dict[str, Any]
Answer = tuple[int, Json]

CONCURRENT_CALLS = 16


class ApiClient:
    """Calls the service as its clients do, counting every request."""

    def __init__(self, *, session: aiohttp.ClientSession, base_url: str, operator: Headers) -> None:
        self.session = session
        self.base = base_url.rstrip("/")
        self.operator = operator
        self.requests = 0

    async def call(self, method: str, path: str, headers: Headers, body: Json | None = None) -> Answer:
        """One request; returns (status, JSON body). A 5xx answer raises: the demo stops there."""
        self.requests += 1
        async with self.session.request(method, self.base + path, json=body, headers=headers) as response:
            payload = await response.json(content_type=None)
            if response.status >= 500:
                raise RuntimeError(f"{method} {path} answered {response.status}: {payload}")
            return response.status, payload

    async def token(self, role: str, **scope: str) -> Headers:
        """Headers carrying a fresh token for `role`, created by the operator."""
        status, body = await self.call("POST", "/v1/tokens", self.operator, {"role": role, **scope})
        if status != 201:
            raise RuntimeError(f"could not create a {role} token: {body}")
        return {"Authorization": f"Bearer {body['token']}"}

    async def together(self, calls: Iterable[Awaitable[Answer]]) -> list[Answer]:
        """Independent requests (different couriers) at one instant, sent concurrently."""
        gate = asyncio.Semaphore(CONCURRENT_CALLS)

        async def bounded(call: Awaitable[Answer]) -> Answer:
            async with gate:
                return await call

        return await asyncio.gather(*(bounded(c) for c in calls))
