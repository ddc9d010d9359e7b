"""Webhook endpoints for operators: create (the secret shown once), list, delete; deliveries."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from datetime import datetime

from dispatch.errors import NotFound, NotRetryable, WebhookUrlRefused
from dispatch.orders.lifecycle import EventType
from dispatch.webhooks.address_guard import ip_literal, parse_url, refuse_unless_public
from dispatch.webhooks.model import Delivery, DeliveryStatus, Endpoint, WebhookState
from dispatch.webhooks.ports import Resolver, WebhookStore
from dispatch.webhooks.signing import new_secret

DNS_TIMEOUT_S = 2.0  # a look-up slower than this is left to the check at delivery
EVENT_TYPES = tuple(t.value for t in EventType if t is not EventType.PLACED)


class WebhookRegistry:
    def __init__(self, *, store: WebhookStore, resolver: Resolver, allow_private: bool) -> None:
        self.store = store
        self.resolver = resolver
        self.allow_private = allow_private

    async def create(self, url: str, event_types: Sequence[str] | None, *, now: datetime) -> Endpoint:
        """A new active endpoint with a fresh ``whsec_`` secret (the caller shows it once)."""
        await self.check_url(url)
        endpoint = Endpoint(
            webhook_id="wh_" + secrets.token_hex(8),
            url=url,
            event_types=tuple(dict.fromkeys(event_types)) if event_types is not None else None,
            secret=new_secret(),
            state=WebhookState.ACTIVE,
            created_at=now,
        )
        await self.store.create_endpoint(endpoint)
        return endpoint

    async def check_url(self, url: str) -> None:
        """http(s) only; an address literal or every DNS answer must be public (unless allowed).
        A name that does not resolve now is accepted: every delivery checks its answers again."""
        _, host, port = parse_url(url)
        if self.allow_private:
            return
        literal = ip_literal(host)
        if literal is not None:
            refuse_unless_public(host, [str(literal)], allow_private=False)
            return
        if host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
            raise WebhookUrlRefused(f"{host} is a loopback name (set FLASHDISPATCH_WEBHOOK_ALLOW_PRIVATE=1)")
        try:
            addresses = await asyncio.wait_for(self.resolver.addresses(host, port), DNS_TIMEOUT_S)
        except (OSError, TimeoutError):
            return
        refuse_unless_public(host, addresses, allow_private=False)

    async def all(self) -> list[Endpoint]:
        return await self.store.endpoints()

    async def delete(self, webhook_id: str) -> None:
        if not await self.store.delete_endpoint(webhook_id):
            raise NotFound(f"no webhook {webhook_id!r}")

    async def deliveries(
        self, webhook_id: str, *, status: DeliveryStatus | None, limit: int
    ) -> list[Delivery]:
        await self._endpoint(webhook_id)
        return await self.store.deliveries(webhook_id, status=status, limit=limit)

    async def retry(self, webhook_id: str, delivery_id: int, *, now: datetime) -> Delivery:
        """A failed delivery tries again, with a fresh schedule."""
        endpoint = await self._endpoint(webhook_id)
        if endpoint.state is not WebhookState.ACTIVE:
            raise NotRetryable(f"webhook {webhook_id!r} is disabled ({endpoint.disabled_reason})")
        retried = await self.store.retry(webhook_id, delivery_id, now=now)
        if retried is not None:
            return retried
        current = await self.store.delivery(webhook_id, delivery_id)
        if current is None:
            raise NotFound(f"no delivery {delivery_id} of webhook {webhook_id!r}")
        raise NotRetryable(f"delivery {delivery_id} is {current.status.value}, not failed")

    async def _endpoint(self, webhook_id: str) -> Endpoint:
        endpoint = await self.store.endpoint(webhook_id)
        if endpoint is None:
            raise NotFound(f"no webhook {webhook_id!r}")
        return endpoint
