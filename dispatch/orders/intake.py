"""Order intake: validate → snap → choose the store → reserve atomically → promise.

The answer comes from memory (tables, stock view) plus one database round trip; PostgreSQL
stays the authority, so a stale view costs a lost reservation and the next candidate, never
an oversold unit.
"""

from __future__ import annotations

import asyncio
import math
from datetime import datetime, timedelta
from typing import NoReturn

import numpy as np

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.errors import OrderIdReused, OutOfStock, OverCapacity, ZoneClosed
from dispatch.orders.events import Actor
from dispatch.orders.leg_planner import LegPlanner
from dispatch.orders.legs import LegPlan
from dispatch.orders.lifecycle import Step, check_actor
from dispatch.orders.model import OrderRequest, Placement
from dispatch.orders.ports import OrderObserver, OrderRecords, Placements
from dispatch.orders.promise import Promise, PromiseErrors, decide_promise
from dispatch.orders.sla import promise_for
from dispatch.orders.tracking import tracking_url
from dispatch.settings import Policy
from geo.errors import OutOfArea
from stores.catalog import StoreCatalog
from stores.choice import Candidate, rank_stores
from stores.stock_view import StockView


class Intake:
    def __init__(
        self,
        *,
        orders: OrderRecords,
        keeper: CatalogKeeper,
        stock_view: StockView,
        load: StoreLoad,
        metrics: OrderObserver,
        policy: Policy,
        batcher: Placements,
        planner: LegPlanner,
        errors: PromiseErrors | None = None,
    ) -> None:
        self.errors = errors or PromiseErrors()  # the deliveries' recent errors: the promise's margin
        self.planner = planner  # predictions on the round's outlook, under the zone modes
        self.zones = planner.zones
        self.outlook = planner.outlook
        self.tz = planner.tz
        self.orders = orders
        self.batcher = batcher  # placements are group-committed (see OrderBatcher)
        self.keeper = keeper
        self.stock_view = stock_view
        self.load = load
        self.metrics = metrics
        self.policy = policy
        self._in_flight: dict[str, tuple[str, asyncio.Future[tuple[int, dict]]]] = {}

    async def place(self, request: OrderRequest, *, now: datetime, actor: Actor) -> tuple[int, dict]:
        """Place an order idempotently; returns (HTTP status, body). Refusals raise domain errors.

        Concurrent requests with the same id in this process share the first one's work;
        across processes the order row's primary key settles it.
        """
        check_actor(Step.RESERVE, actor.type)
        running = self._in_flight.get(request.order_id)
        if running is not None:
            leader_digest, leader = running
            if leader_digest == request.digest:
                return await asyncio.shield(leader)
            # a different body under the same id: let the first finish, then judge afresh
            await asyncio.wait([leader])
            return await self.place(request, now=now, actor=actor)
        future: asyncio.Future[tuple[int, dict]] = asyncio.get_running_loop().create_future()
        self._in_flight[request.order_id] = (request.digest, future)
        try:
            result = await self._place(request, now, actor)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: followers re-raise it themselves
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._in_flight[request.order_id]

    async def _place(self, request: OrderRequest, now: datetime, actor: Actor) -> tuple[int, dict]:
        """Choose and reserve; a known order id is answered by the placement itself (``exists``),
        or, on every refusal path, by a lookup first (an order placed earlier is never refused)."""
        try:
            return await self._choose_and_reserve(request, now, actor)
        except (OutOfArea, OutOfStock) as refusal:
            known = await self.orders.find_answer(request.order_id)
            if known is not None:
                return self._answer_existing(request, known.digest, known.response)
            if isinstance(refusal, OutOfStock):
                self.metrics.order_refused("out_of_stock")
                self.metrics.reservation_failed("out_of_stock")
            else:
                self.metrics.order_refused("out_of_area")
            raise

    async def _choose_and_reserve(
        self, request: OrderRequest, now: datetime, actor: Actor
    ) -> tuple[int, dict]:
        catalog = self.keeper.current
        try:
            snap = self.keeper.network.snap(
                request.drop_lat, request.drop_lon, max_distance_m=self.policy.max_snap_m
            )
        except OutOfArea:
            raise OutOfArea(
                f"the drop-off is more than {self.policy.max_snap_m:.0f} m from the road network"
            ) from None
        if catalog.tables is None:
            raise OutOfArea("no store is registered yet")
        closed = self.zones.current.closed_area_at(request.drop_lat, request.drop_lon)
        if closed is not None:
            raise ZoneClosed(
                f"zone {closed.zone} is closed here: {closed.reason}", zone=closed.zone, reason=closed.reason
            )
        placed_at = request.placed_at or now
        lines = request.line_map
        nearest: int  # set on every pass; the loop runs at least once
        for attempt in (1, 2):
            conditions, open_mask = self.planner.conditions_and_open(now)
            choice = rank_stores(
                node=snap.node,
                lines=lines,
                tables=catalog.tables,
                stores=conditions,
                stock=self.stock_view,
                limit=self.policy.store_candidates,
            )
            if choice.nearest_in_range is None:
                self._refuse_out_of_reach(catalog, snap.node, open_mask)
            nearest = choice.nearest_in_range
            for candidate in choice.candidates:
                answer = await self._try_store(
                    request, candidate, node=snap.node, placed_at=placed_at, now=now, actor=actor
                )
                if answer is not None:
                    return answer
            # Before refusing, ask the database: another process may have synced stock that
            # this process's view has not seen. Retry once if anything in range got more.
            if attempt == 1 and not await self._refresh_view(catalog, snap.node, lines, now):
                break
        if request.allow_split:
            answer = await self._try_split(request, node=snap.node, placed_at=placed_at, now=now, actor=actor)
            if answer is not None:
                return answer
        await self._refuse_out_of_stock(request, catalog.stores[nearest].store_id)

    async def _refuse_out_of_stock(self, request: OrderRequest, store_id: str) -> NoReturn:
        """Name the lines the nearest store in range is short of (all of them when none is)."""
        available = await self.orders.availability(store_id, [sku for sku, _ in request.lines])
        self.stock_view.set_many(store_id, available)
        raise OutOfStock(
            "no store in range can fill every line",
            store_id=store_id,
            lines=[
                {"sku": sku, "requested": qty, "available": available[sku]}
                for sku, qty in request.lines
                if available[sku] < qty
            ]
            or [{"sku": sku, "requested": qty, "available": available[sku]} for sku, qty in request.lines],
        )

    def _refuse_out_of_reach(self, catalog: StoreCatalog, node: int, open_mask: np.ndarray) -> NoReturn:
        """No store takes this address: say so, naming the zone mode if one is the reason."""
        if self.zones.current.by_zone and catalog.tables is not None:
            stores, travel = catalog.tables.stores_in_reach(node)
            reachable = stores[(travel <= catalog.radius_s.take(stores)) & open_mask.take(stores)]
            for i in reachable:
                mode = self.zones.current.by_zone.get(catalog.stores[int(i)].zone)
                if mode is not None:
                    raise ZoneClosed(
                        f"zone {mode.zone} takes no order here now: {mode.reason}",
                        zone=mode.zone,
                        reason=mode.reason,
                    )
        raise OutOfArea("no open store reaches this address within its delivery radius")

    async def _refresh_view(
        self, catalog: StoreCatalog, node: int, lines: dict[str, int], now: datetime
    ) -> bool:
        """Reload the availability of the order's SKUs at every open store in range."""
        if catalog.tables is None:
            return False
        stores, travel = catalog.tables.stores_in_reach(node)
        usable = (travel <= catalog.radius_s.take(stores)) & self.load.open_mask(catalog, now, self.tz).take(
            stores
        )
        store_ids = [catalog.store_ids[int(i)] for i in stores[usable]]
        if not store_ids:
            return False
        fresh = await self.orders.availability_many(store_ids, list(lines))
        grew = False
        for store_id, levels in fresh.items():
            for sku, available in levels.items():
                if available > self.stock_view.available(store_id, sku):
                    grew = True
            self.stock_view.set_many(store_id, levels)
        return grew

    async def _try_store(
        self, request: OrderRequest, candidate: Candidate, *, node: int, placed_at: datetime, now: datetime,
        actor: Actor,
    ) -> tuple[int, dict] | None:  # fmt: skip
        """Predict, promise and reserve at one store; None when a line was lost to a race."""
        leg = self.planner.plan(candidate, request.lines, node, now)
        if leg is None:
            return None
        predicted, trip = leg.predicted, leg.trip
        promise, extension = self._promise(leg.zone, placed_at=placed_at, predicted=predicted)
        response = self._answer(request, candidate.store_id, promise, predicted, extension)
        placement = self._placement(
            request, leg, node=node, placed_at=placed_at, promise=promise, response=response, actor=actor,
            now=now, extension=extension,
        )  # fmt: skip
        result = await self.batcher.place(placement)
        if result.kind == "placed":
            if trip is not None and self.outlook.current is not None:
                self.outlook.current.book(trip[0], trip[1], node)
            if promise.extended_minutes:
                self.metrics.promise_extended(leg.zone)
            self._reserved(request.lines, candidate.store_id)
            self.metrics.order_placed(leg.zone)
            return 201, response
        if result.kind == "exists":  # another process placed it meanwhile
            return self._answer_existing(request, result.digest, result.response)
        # lost the race for a line: refresh what we believe and try the next store
        self.metrics.reservation_failed("race_lost")
        fresh = await self.orders.availability(candidate.store_id, [sku for sku, _ in request.lines])
        self.stock_view.set_many(candidate.store_id, fresh)
        return None

    @staticmethod
    def _placement(
        request: OrderRequest, leg: LegPlan, *, node: int, placed_at: datetime, promise: Promise,
        response: dict, actor: Actor, now: datetime, extension: int,
    ) -> Placement:  # fmt: skip
        """The order's first leg as the database places it."""
        return Placement(
            order_id=request.order_id,
            digest=request.digest,
            store_id=leg.store_id,
            zone=leg.zone,
            lines=leg.lines,
            drop_lat=request.drop_lat,
            drop_lon=request.drop_lon,
            drop_node=node,
            placed_at=placed_at,
            promised_by=promise.promised_by,
            predicted_delivery_at=leg.predicted,
            ready_at=leg.ready_at,
            response=response,
            actor=actor,
            occurred_at=now,
            promise_extension_minutes=extension,
        )

    async def _try_split(
        self, request: OrderRequest, *, node: int, placed_at: datetime, now: datetime, actor: Actor
    ) -> tuple[int, dict] | None:
        """Two legs from two stores that together fill the order, both at the door by the promise
        (never extended for a split); None when no such pair is found or the race for a line is lost.
        The legs are numbered by store id, so concurrent splits lock stock in one order."""
        legs = self.planner.split(node, request.line_map, now=now)
        if legs is None:
            return None
        first, second = sorted(legs, key=lambda leg: leg.store_id)
        predicted = max(first.predicted, second.predicted)
        mode = self.zones.current.by_zone.get(first.zone)
        planned = mode.promise_extension_minutes if mode else 0
        promised_by = promise_for(placed_at, sla_minutes=self.policy.sla_minutes, extension_minutes=planned)
        if predicted + timedelta(seconds=self.errors.margin_s(first.zone)) > promised_by:
            return None
        promise = Promise(promised_by=promised_by, extended_minutes=0, predicted_late=False, refused=False)
        response = self._answer(request, first.store_id, promise, predicted, planned)
        response["legs"] = [first.as_json(), second.as_json()]
        placement = self._placement(
            request, first, node=node, placed_at=placed_at, promise=promise, response=response, actor=actor,
            now=now, extension=planned,
        )  # fmt: skip
        result = await self.orders.place_split(placement, second)
        if result.kind == "exists":
            return self._answer_existing(request, result.digest, result.response)
        if result.kind != "placed":
            self.metrics.reservation_failed("race_lost")
            return None
        for leg in (first, second):
            if leg.trip is not None and self.outlook.current is not None:
                self.outlook.current.book(leg.trip[0], leg.trip[1], node)
            self._reserved(leg.lines, leg.store_id)
        self.metrics.order_placed(first.zone)
        self.metrics.order_split(first.zone)
        return 201, response

    def _promise(self, zone: str, *, placed_at: datetime, predicted: datetime) -> tuple[Promise, int]:
        """The promise under the zone's mode, and its whole extension in minutes; refuses when the
        zone says so and the prediction is past the promise (nothing is reserved then)."""
        mode = self.zones.current.by_zone.get(zone)
        planned = mode.promise_extension_minutes if mode else 0
        margin = timedelta(seconds=self.errors.margin_s(zone))
        promise = decide_promise(
            predicted=predicted + margin,
            promised_by=promise_for(
                placed_at, sla_minutes=self.policy.sla_minutes, extension_minutes=planned
            ),
            on_overload=mode.on_overload if mode else "accept",
            cap_minutes=self.policy.overload_extension_cap_minutes,
        )
        if promise.refused:
            self.metrics.order_refused("over_capacity")
            minutes = math.ceil((predicted - promise.promised_by).total_seconds() / 60)
            raise OverCapacity(
                f"zone {zone} is over capacity: the order would arrive about {minutes} min after its promise",
                zone=zone,
                predicted_delivery_at=predicted.isoformat(),
            )
        return promise, planned + promise.extended_minutes

    @staticmethod
    def _answer(
        request: OrderRequest, store_id: str, promise: Promise, predicted: datetime, extension: int
    ) -> dict[str, object]:
        """The 201 body (kept with the order, so a replay gets it again, tracking link included;
        ``on_short``, when the request chose one, is kept in it too)."""
        response: dict[str, object] = {
            "order_id": request.order_id,
            "store_id": store_id,
            "status": "reserved",
            "promised_by": promise.promised_by.isoformat(),
            "predicted_delivery_at": predicted.isoformat(),
            "tracking_url": tracking_url(),
        }
        if extension:
            response["promise_extension_minutes"] = extension
        if promise.predicted_late:
            response["predicted_late"] = True
        if request.on_short is not None:
            response["on_short"] = request.on_short
        return response

    def _reserved(self, lines: tuple[tuple[str, int], ...], store_id: str) -> None:
        """What this process believes once a leg is placed: less stock, a longer queue."""
        for sku, qty in lines:
            self.stock_view.adjust(store_id, sku, -qty)
        self.load.order_reserved(store_id)

    @staticmethod
    def _answer_existing(
        request: OrderRequest, digest: str | None, response: dict | None
    ) -> tuple[int, dict]:
        if digest != request.digest:
            raise OrderIdReused(f"order id {request.order_id!r} was used with a different body")
        return 201, dict(response or {})
