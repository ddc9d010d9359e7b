"""The relay's HTTP client (aiohttp): posts a signed body, connecting only to checked addresses."""

from __future__ import annotations

import asyncio
import errno
import socket
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from dispatch.errors import WebhookUrlRefused
from dispatch.webhooks.address_guard import ip_literal, parse_url, refuse_unless_public
from dispatch.webhooks.model import SendResult

USER_AGENT = "FlashDispatch-Webhooks/1"


class GuardedResolver(AbstractResolver):
    """DNS for the relay's connector: refuses the connection if any answer is not public, so the
    address checked is the address connected to (no DNS rebinding between check and connect)."""

    def __init__(self, *, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        try:
            refuse_unless_public(host, [a["host"] for a in answers], allow_private=self._allow_private)
        except WebhookUrlRefused as exc:
            raise OSError(errno.EACCES, exc.detail) from None
        return answers

    async def close(self) -> None:
        await self._inner.close()


class SystemResolver:
    """The registry's DNS look-up (getaddrinfo) for the check at creation."""

    async def addresses(self, host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


def retry_after_s(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class AiohttpSender:
    """One client session for the relay; call ``close`` at shutdown."""

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                # no pool-wide cap: the relay bounds attempts per endpoint, and a shared cap would
                # let dead endpoints' hanging connections starve a healthy one
                resolver=GuardedResolver(allow_private=self._allow_private),
                limit=0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector, headers={"user-agent": USER_AGENT}, auto_decompress=False
            )
        return self._session

    async def post(self, url: str, *, headers: dict[str, str], body: bytes, timeout_s: float) -> SendResult:
        try:
            _, host, _ = parse_url(url)
            literal = ip_literal(host)
            if literal is not None:  # no DNS, so the resolver never sees it
                refuse_unless_public(host, [str(literal)], allow_private=self._allow_private)
        except WebhookUrlRefused as exc:
            return SendResult(None, error=f"refused: {exc.detail}")
        try:
            async with self._client().post(
                url,
                data=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=timeout_s),
                allow_redirects=False,
            ) as response:
                await response.content.read(64 * 1024)  # a little of the body, then let it go
                return SendResult(
                    response.status, retry_after_s=retry_after_s(response.headers.get("retry-after"))
                )
        except TimeoutError:
            return SendResult(None, error=f"no answer within {timeout_s:g} s")
        except (aiohttp.ClientError, OSError) as exc:
            return SendResult(None, error=f"{type(exc).__name__}: {exc}"[:500])

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
