"""Planning a leg: which store, when it is ready, when it would reach the door.

One place for the prediction intake promises on and short picks re-source with: the round's
courier outlook (the same model and courier state the round plans with) when there is one,
else store choice's own estimate.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.catalog.zones import ZoneModeKeeper
from dispatch.orders.legs import LegPlan, Trip
from dispatch.round.inputs import from_epoch
from dispatch.round.outlook import LatestOutlook
from dispatch.settings import Policy
from stores.choice import Candidate, StoreConditions, rank_stores
from stores.split import best_pair
from stores.stock_view import StockView


class LegPlanner:
    def __init__(
        self,
        *,
        keeper: CatalogKeeper,
        stock_view: StockView,
        load: StoreLoad,
        zones: ZoneModeKeeper,
        outlook: LatestOutlook,
        policy: Policy,
        tz: ZoneInfo,
    ) -> None:
        self.keeper = keeper
        self.stock_view = stock_view
        self.load = load
        self.zones = zones
        self.outlook = outlook
        self.policy = policy
        self.tz = tz

    def conditions(self, now: datetime) -> StoreConditions:
        """Per store: id, radius under the zone modes, readiness, and whether it takes orders now."""
        return self.conditions_and_open(now)[0]

    def conditions_and_open(self, now: datetime) -> tuple[StoreConditions, np.ndarray]:
        """The conditions, and which stores are open at all (zone modes aside): intake names the
        zone mode that keeps an open store from taking an order."""
        catalog = self.keeper.current
        open_mask = self.load.open_mask(catalog, now, self.tz)
        radius_s, taking = self.zones.radius_and_taking(catalog, open_mask)
        return StoreConditions(catalog.store_ids, radius_s, self.load.ready_in_s(catalog), taking), open_mask

    def predict(
        self, candidate: Candidate, ready_at: datetime, node: int, now: datetime
    ) -> tuple[datetime, Trip | None]:
        """When a leg from ``candidate`` would reach the door: on the round's outlook when there is
        one, else from store choice's estimate."""
        outlook = self.outlook.current
        trip = None
        if outlook is not None:
            trip = outlook.predict(candidate.store_id, ready_at=ready_at, dropoff=node, now=now)
        if trip is None:
            return now + timedelta(seconds=candidate.predicted_delivery_s), None
        return from_epoch(trip[1].dropoff_at[0]), trip

    def plan(
        self, candidate: Candidate, lines: tuple[tuple[str, int], ...], node: int, now: datetime
    ) -> LegPlan | None:
        catalog = self.keeper.current
        store = catalog.store(candidate.store_id)
        position = catalog.position(candidate.store_id)
        if store is None or position is None:
            return None
        ready_at = now + timedelta(seconds=self.load.pick_ready_in_s(catalog, position))
        predicted, trip = self.predict(candidate, ready_at, node, now)
        return LegPlan(candidate.store_id, store.zone, lines, ready_at, predicted, trip)

    def resource(
        self,
        node: int,
        lines: Mapping[str, int],
        *,
        now: datetime,
        exclude: frozenset[str],
        deliver_by: datetime,
    ) -> LegPlan | None:
        """The best store (not one the order already uses) that holds ``lines`` and whose leg
        would reach the door by ``deliver_by``, or None."""
        tables = self.keeper.current.tables
        if tables is None:
            return None
        choice = rank_stores(
            node=node, lines=lines, tables=tables, stores=self.conditions(now), stock=self.stock_view,
            limit=self.policy.store_candidates + len(exclude),
        )  # fmt: skip
        for candidate in choice.candidates:
            if candidate.store_id in exclude:
                continue
            leg = self.plan(candidate, tuple(sorted(lines.items())), node, now)
            if leg is not None and leg.predicted <= deliver_by:
                return leg
        return None

    def split(self, node: int, lines: Mapping[str, int], *, now: datetime) -> tuple[LegPlan, LegPlan] | None:
        """Two legs from the best pair of stores that together hold every line, or None."""
        tables = self.keeper.current.tables
        if tables is None:
            return None
        pair = best_pair(
            node=node, lines=lines, tables=tables, stores=self.conditions(now), stock=self.stock_view
        )
        if pair is None:
            return None
        first = self.plan(pair.first, pair.first_lines, node, now)
        second = self.plan(pair.second, pair.second_lines, node, now)
        if first is None or second is None:
            return None
        return first, second
