"""The webhook relay: fan the event log out to endpoints, claim due deliveries, sign, post, record.

At least once: a delivery is marked delivered only after a 2xx; a relay that dies mid-post leaves
its claim to run out, and another relay (or itself, restarted) posts it again with the same
``webhook-id``. Per endpoint and order, a delivery is claimed only when no earlier event of the
order is still pending, so receivers see each order's events in ``sequence`` order; other orders
flow past a stuck one. Each endpoint has its own bounded number of attempts in flight, so a dead
endpoint fills only its own slots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from dispatch.clock import Clock
from dispatch.webhooks.model import Attempt, Claimed, Endpoint, RelayPolicy, Result, WebhookState, decide
from dispatch.webhooks.ports import RelayObserver, Sender, WallClock, WebhookStore
from dispatch.webhooks.signing import signed_headers

log = logging.getLogger("flashdispatch.webhooks")

ENDPOINTS_REFRESH_S = 1.0
GAUGES_REFRESH_S = 1.0
COALESCE_S = 0.005  # after a wake-up, let a few more attempts finish before claiming again


def payload(claimed: Claimed) -> bytes:
    """The body: ``{"type", "timestamp", "data": {"order": <as GET returns it>, "event": …}}``."""
    event = claimed.event
    body = {
        "type": event.type,
        "timestamp": event.occurred_at.isoformat(),
        "data": {
            "order": claimed.order.as_json() if claimed.order is not None else None,
            "event": event.as_json(),
        },
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(slots=True)
class RelayReport:
    """What one ``tick`` did."""

    fanned_out: int = 0
    attempts: int = 0


class AttemptWriter:
    """Group commit of attempt results: every attempt that finishes while a write is under way
    joins the next one (one statement and one commit for many deliveries)."""

    def __init__(self, store: WebhookStore) -> None:
        self._store = store
        self._waiting: list[tuple[Attempt, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def write(self, attempt: Attempt) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((attempt, done))
        if self._task is None:
            self._task = asyncio.create_task(self._flush(), name="webhook-results")
        await done

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # attempts finishing in this turn of the loop join
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    await self._store.record([attempt for attempt, _ in batch])
                except Exception as exc:  # each waiting attempt logs it; their claims run out
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                else:
                    for _, done in batch:
                        if not done.done():
                            done.set_result(None)
        finally:
            self._task = None


class Relay:
    def __init__(
        self,
        *,
        store: WebhookStore,
        sender: Sender,
        clock: Clock,
        observer: RelayObserver,
        policy: RelayPolicy,
        rng: random.Random | None = None,
        wall: WallClock = time.time,
        transient_errors: tuple[type[BaseException], ...] = (),
    ) -> None:
        """``transient_errors``: what the storage raises while the database is away (logged as a
        warning and retried next pass, not as a bug)."""
        self.store = store
        self.sender = sender
        self.clock = clock
        self.observer = observer
        self.policy = policy
        self._rng = rng or random.Random()
        self._wall = wall
        self._transient = transient_errors
        self._inflight: dict[str, set[asyncio.Task[None]]] = {}
        self._wake = asyncio.Event()
        self._endpoints: list[Endpoint] = []
        self._endpoints_at = float("-inf")
        self._writer = AttemptWriter(store)

    # one pass, for tests and the demo -------------------------------------------------------
    async def tick(self) -> RelayReport:
        """Fan out, then claim and post until nothing is due; waits for every attempt."""
        report = RelayReport(fanned_out=await self.fan_out())
        while True:
            claimed = await self.pump(await self._active_endpoints(refresh=True))
            await self.drain()
            report.attempts += claimed
            if claimed == 0:
                break
        await self.refresh_gauges()
        return report

    async def run_forever(self) -> None:
        gauges_at = fanned_at = float("-inf")
        try:
            while True:
                try:
                    fanned = 0
                    # a wake-up means free slots, not new events: fan out once per poll interval
                    if time.monotonic() - fanned_at >= self.policy.poll_interval_s:
                        fanned_at = time.monotonic()
                        fanned = await self.fan_out()
                    # new events may be for an endpoint created since the last look
                    await self.pump(await self._active_endpoints(refresh=fanned > 0))
                    if time.monotonic() - gauges_at >= GAUGES_REFRESH_S:
                        gauges_at = time.monotonic()
                        await self.refresh_gauges()
                except asyncio.CancelledError:
                    raise
                except self._transient as exc:  # the database is away: the next pass tries again
                    log.warning(
                        "webhook relay pass skipped, database unavailable: %s: %s", type(exc).__name__, exc
                    )
                except Exception:  # a bug: logged, the next pass tries again
                    log.exception("webhook relay pass failed")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.policy.poll_interval_s)
                if self._wake.is_set():
                    await asyncio.sleep(COALESCE_S)
                    self._wake.clear()
        finally:
            await self.close()

    async def close(self) -> None:
        """Stop every attempt in flight; their claims run out and another pass posts them again."""
        tasks = [t for group in self._inflight.values() for t in group]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # the stages ----------------------------------------------------------------------------
    async def fan_out(self) -> int:
        total = 0
        while True:
            read = await self.store.fan_out(now=self.clock.now(), page=self.policy.fanout_page)
            total += read
            if read < self.policy.fanout_page:
                return total

    async def pump(self, endpoints: list[Endpoint]) -> int:
        """Claim what each endpoint has due, up to its free slots, and start posting it."""
        claimed = 0
        for endpoint in endpoints:
            running = self._inflight.setdefault(endpoint.webhook_id, set())
            free = self.policy.concurrency_per_endpoint - len(running)
            if free <= 0:
                continue
            now = self.clock.now()
            batch = await self.store.claim(
                endpoint.webhook_id,
                now=now,
                limit=free,
                lease_until=now + timedelta(seconds=self.policy.lease_s),
            )
            for item in batch:
                task = asyncio.create_task(
                    self._deliver(endpoint, item), name=f"webhook-{item.delivery.delivery_id}"
                )
                running.add(task)
                task.add_done_callback(self._finished(running))
            claimed += len(batch)
        return claimed

    async def drain(self) -> None:
        tasks = [t for group in self._inflight.values() for t in group]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def refresh_gauges(self) -> None:
        stats = await self.store.stats()
        lag_s = 0.0
        if stats.oldest_pending_at is not None:
            lag_s = max(0.0, (self.clock.now() - stats.oldest_pending_at).total_seconds())
        self.observer.webhook_outbox_lag(lag_s)
        self.observer.webhook_endpoints(active=stats.active, disabled=stats.disabled)

    # one attempt ---------------------------------------------------------------------------
    async def _deliver(self, endpoint: Endpoint, claimed: Claimed) -> None:
        try:
            body = payload(claimed)
            headers = signed_headers(
                endpoint.secret, msg_id=str(claimed.event.event_id), timestamp=int(self._wall()), body=body
            )
            answer = await self.sender.post(
                endpoint.url, headers=headers, body=body, timeout_s=self.policy.timeout_s
            )
            now = self.clock.now()
            decision = decide(
                answer, attempts=claimed.delivery.attempts, now=now, policy=self.policy, rng=self._rng
            )
            await self._writer.write(
                Attempt(claimed.delivery, decision.result, now, answer, decision.next_attempt_at)
            )
            if decision.result is Result.GONE:
                await self.store.disable_endpoint(
                    endpoint.webhook_id, now=now, reason="the receiver answered 410 Gone"
                )
                self._endpoints_at = float("-inf")
                log.warning("webhook %s disabled: its receiver answered 410 Gone", endpoint.webhook_id)
            self.observer.webhook_delivery(decision.result)
        except asyncio.CancelledError:
            raise
        except self._transient as exc:  # the claim runs out and the delivery is posted again
            log.warning(
                "webhook delivery %s not recorded, database unavailable: %s: %s",
                claimed.delivery.delivery_id,
                type(exc).__name__,
                exc,
            )
        except Exception:  # the claim runs out and the delivery is posted again
            log.exception("webhook delivery %s failed to complete", claimed.delivery.delivery_id)

    def _finished(self, running: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
        def done(task: asyncio.Task[None]) -> None:
            running.discard(task)
            self._wake.set()

        return done

    async def _active_endpoints(self, *, refresh: bool = False) -> list[Endpoint]:
        if refresh or time.monotonic() - self._endpoints_at >= ENDPOINTS_REFRESH_S:
            self._endpoints = [e for e in await self.store.endpoints() if e.state is WebhookState.ACTIVE]
            self._endpoints_at = time.monotonic()
        return self._endpoints
