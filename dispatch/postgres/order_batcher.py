"""Group commit for order placement: concurrent placements share one call and one transaction.

Placements queue up while a batch is in flight; the request that finds nobody writing leads:
it writes what is queued (up to ``max_batch``) with ``fd_place_orders`` and hands the lead to
the first request still waiting. No background task: batching lives in the requests' own
tasks. Each order keeps its own result (placed / exists / race_lost); if the batch call fails
as a whole (a deadlock, a bad row), each of its orders is retried alone, so one bad order
never fails the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import asyncpg
import orjson

from dispatch.orders.lifecycle import Step, event_of, target
from dispatch.orders.model import Placement, PlaceResult
from dispatch.postgres.orders import PostgresOrderRepository

# Below PostgreSQL's 64 cached subtransactions per backend (each order is one).
MAX_BATCH = 48

_PLACE_MANY = (
    "SELECT ordinal, result, request_digest, response FROM fd_place_orders("
    "$1::text[], $2::text[], $3::text[], $4::text[], $5::integer[], $6::text[], $7::integer[],"
    " $8::float8[], $9::float8[], $10::integer[], $11::timestamptz[], $12::timestamptz[],"
    " $13::timestamptz[], $14::timestamptz[], $15::jsonb[], $16, $17, $18::text[], $19::text[],"
    " $20::timestamptz[], $21::integer[])"
)


class _Waiting:
    __slots__ = ("future", "placement")

    def __init__(self, placement: Placement, future: asyncio.Future) -> None:
        self.placement = placement
        self.future = future


_LEAD = object()  # a waiting request's future resolves to this when it must write the next batch


class OrderBatcher:
    """Places orders in batches, one transaction (one WAL flush) per batch.

    Up to ``max_writers`` batches are in flight at once (each on its own pool connection), so
    one batch's commit flush overlaps the next batch's work; stock rows and order ids are locked
    in a fixed order inside each batch, so concurrent batches cannot deadlock.
    """

    def __init__(
        self, pool: asyncpg.Pool, *, repository: PostgresOrderRepository | None = None,
        max_batch: int = MAX_BATCH, max_writers: int = 3,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH:
            raise ValueError(f"max_batch must be between 1 and {MAX_BATCH}")
        if max_writers < 1:
            raise ValueError("max_writers must be at least 1")
        self._pool = pool
        self._single = repository or PostgresOrderRepository(pool)
        self._max_batch = max_batch
        self._max_writers = max_writers
        self._queue: list[_Waiting] = []
        self._writers = 0  # writer slots taken (running or handed to a waiting request)
        self._handed: set[_Waiting] = set()  # waiting requests given a slot, not yet running
        self._taking = 0  # writers between joining and taking their batch
        self.batches = 0  # counters, for benchmarks and tests
        self.orders = 0

    async def place(self, placement: Placement) -> PlaceResult:
        """Claim the id, reserve every line and record the order, atomically, in some batch."""
        waiting = _Waiting(placement, asyncio.get_running_loop().create_future())
        self._queue.append(waiting)
        if self._writers >= self._max_writers:
            try:
                outcome = await asyncio.shield(waiting.future)
            except asyncio.CancelledError:
                self._abandon(waiting)
                raise
            if outcome is not _LEAD:
                return outcome
            self._handed.discard(waiting)
        else:
            self._writers += 1
        return await self._lead(waiting)

    async def _lead(self, own: _Waiting) -> PlaceResult:
        try:
            self._taking += 1
            try:
                await asyncio.sleep(0)  # let requests read in this same loop pass join the batch
            finally:
                self._taking -= 1
            # share what is queued with the writers about to take theirs, so batches overlap
            share = -(-len(self._queue) // (self._taking + 1))
            size = min(self._max_batch, max(1, share))
            batch = self._queue[:size]
            del self._queue[:size]
            if batch:
                # shielded: a cancelled leader must not cancel the other orders' writes
                await asyncio.shield(self._write(batch))
        finally:
            if own in self._queue:  # cancelled before the batch was taken
                self._queue.remove(own)
            self._hand_over()
        return await own.future  # settled by this batch, or by another writer's

    def _hand_over(self) -> None:
        """Pass this writer slot to the first waiting request, or free it when none waits."""
        nxt = next((w for w in self._queue if w not in self._handed), None)
        if nxt is None:
            self._writers -= 1
            return
        signal, nxt.future = nxt.future, asyncio.get_running_loop().create_future()
        self._handed.add(nxt)
        signal.set_result(_LEAD)

    def _abandon(self, waiting: _Waiting) -> None:
        """A waiting request was cancelled: drop its order, and its slot if it had been given one."""
        if waiting in self._queue:
            self._queue.remove(waiting)
        if waiting in self._handed:
            self._handed.discard(waiting)
            self._hand_over()

    async def _write(self, batch: list[_Waiting]) -> None:
        try:
            results = await self._place_many([w.placement for w in batch])
        except asyncpg.PostgresError:
            results = None  # the batch as a whole failed: settle each order alone below
        except BaseException as exc:
            for w in batch:
                if not w.future.done():
                    w.future.set_exception(exc)
                    w.future.exception()  # retrieved: the waiter re-raises it
            if isinstance(exc, Exception):
                return
            raise
        if results is not None:
            for w, result in zip(batch, results, strict=True):
                w.future.set_result(result)
            return
        for w in batch:
            try:
                result = await self._place_one(w.placement)
            except Exception as exc:
                w.future.set_exception(exc)
                w.future.exception()  # retrieved: the waiter re-raises it
            else:
                w.future.set_result(result)

    async def _place_one(self, p: Placement) -> PlaceResult:
        return await self._single.place(p)

    async def _place_many(self, placements: Sequence[Placement]) -> list[PlaceResult]:
        if len(placements) == 1:
            self.batches += 1
            self.orders += 1
            return [await self._place_one(placements[0])]
        # a fixed order of order ids too, so two batches claim ids in the same order
        order = sorted(range(len(placements)), key=lambda i: placements[i].order_id)
        ps = [placements[i] for i in order]
        rows = await self._pool.fetch(
            _PLACE_MANY,
            [p.order_id for p in ps],
            [p.digest for p in ps],
            [p.store_id for p in ps],
            [p.zone for p in ps],
            [len(p.lines) for p in ps],
            [sku for p in ps for sku, _ in p.lines],
            [qty for p in ps for _, qty in p.lines],
            [p.drop_lat for p in ps],
            [p.drop_lon for p in ps],
            [p.drop_node for p in ps],
            [p.placed_at for p in ps],
            [p.promised_by for p in ps],
            [p.predicted_delivery_at for p in ps],
            [p.ready_at for p in ps],
            [orjson.dumps(p.response).decode() for p in ps],
            target(Step.RESERVE),
            event_of(Step.RESERVE).value,
            [p.actor.type.value for p in ps],
            [p.actor.id for p in ps],
            [p.occurred_at for p in ps],
            [p.promise_extension_minutes for p in ps],
        )
        self.batches += 1
        self.orders += len(ps)
        results: list[PlaceResult] = [PlaceResult("race_lost")] * len(ps)
        for row in rows:
            response = orjson.loads(row["response"]) if row["response"] is not None else None
            results[order[row["ordinal"] - 1]] = PlaceResult(row["result"], row["request_digest"], response)
        return results
