"""Store choice: the stores that can serve an order, ranked by predicted delivery (pure).

A function over precomputed travel-time tables and an in-memory stock view: no graph search,
no query, microseconds per order. PostgreSQL stays the authority on stock; the caller reserves
against the first candidate and falls back to the next when the reservation loses a race.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from geo.tables import TravelTimeTables
    from stores.stock_view import StockView


class Candidate(NamedTuple):
    """A store that can serve every line of an order, with its predicted delivery.

    A NamedTuple rather than a frozen dataclass: just as immutable, and built several times per
    order on the intake hot path, where a frozen dataclass's ``__init__`` cost 2 µs apiece.
    """

    store_index: int
    store_id: str
    travel_s: float
    ready_in_s: float
    predicted_delivery_s: float
    depth: int


@dataclass(frozen=True, slots=True)
class StoreChoice:
    """Ranked candidates (best first) and the nearest open store in range.

    ``nearest_in_range`` is None when no open store reaches the drop-off within its radius
    (the order is out of area); with candidates empty but a nearest store, lines are out of stock.
    """

    candidates: tuple[Candidate, ...]
    nearest_in_range: int | None

    @property
    def best(self) -> Candidate | None:
        """The first candidate, or None."""
        return self.candidates[0] if self.candidates else None


class StoreConditions(NamedTuple):
    """What store choice needs to know per store, indexed by store index.

    One value instead of four parallel keywords: the arrays only make sense together (same
    length, same store order as the travel-time tables). A NamedTuple, like `Candidate`: intake
    builds one per order (readiness and opening change by the minute), and it is cheaper to build.
    """

    store_ids: Sequence[str]
    radius_s: np.ndarray
    ready_in_s: np.ndarray
    is_open: np.ndarray


_NONE = StoreChoice(candidates=(), nearest_in_range=None)

# Stores read first, nearest by travel: the best few by predicted delivery are almost always
# among them (on the bundled district, with 200 stores in reach, the rest is needed for ~7 % of
# orders), and sorting a prefix costs a third of sorting the whole row.
_PREFIX = 48
_CHUNK = 16  # sorted stores read at a time

_new_tuple = tuple.__new__  # builds a Candidate without its Python-level __new__ (~90 ns less)


# A store with every line in stock, before the final ranking: (predicted delivery, −depth,
# store id, store index, travel seconds). A plain tuple: built per store scanned on the intake
# hot path, and it sorts as the ranking does (ids are unique, so the tail never decides).
_Found = tuple[float, int, str, int, float]


def rank_stores(
    *,
    node: int,
    lines: Mapping[str, int],
    tables: TravelTimeTables,
    stores: StoreConditions,
    stock: StockView,
    limit: int = 5,
) -> StoreChoice:
    """Rank the stores that can deliver an order to ``node``.

    Parameters
    ----------
    node
        The drop-off's road network node.
    lines
        SKU → units requested (each at least 1).
    tables
        Travel-time tables for the current store set.
    stores
        Per store: id, radius (the longest store → drop-off ride it serves, in seconds),
        ``ready_in_s`` (seconds from now until an order placed now could leave the store: max of
        pick time + backlog and the courier arrival estimate; the caller computes it) and whether
        it takes orders now.
    stock
        Available units per store and SKU.
    limit
        At most this many candidates are returned.

    Returns
    -------
    StoreChoice
        Candidates in range, open, with every line available, ranked by
        ``predicted_delivery_s = ready_in_s + travel_s``, then deeper stock (larger
        ``depth`` = min over lines of available − requested), then store id.

    Raises
    ------
    ValueError
        If the order has no lines or a line asks for fewer than one unit, or limit < 1.
    """
    items = _checked_lines(lines, limit)
    reach, travel = tables.stores_in_reach(node)
    size, floor = _prefix(travel, stores.ready_in_s, limit)
    if size < reach.shape[0]:
        choice = _rank_row(reach[:size], travel[:size], floor,
                           items=items, stores=stores, stock=stock, limit=limit)
        if choice is not None:
            return choice
    choice = _rank_row(reach, travel, math.inf, items=items, stores=stores, stock=stock, limit=limit)
    return _NONE if choice is None else choice


def _prefix(travel: np.ndarray, ready_in_s: np.ndarray, limit: int) -> tuple[int, float]:
    """How many of the row's nearest stores to read first, and a floor under every later prediction.

    The floor is exact: the row is sorted by travel time, and the floor is added in the arrays'
    own dtypes, as the predictions are (rounding is monotonic). When readiness varies more than
    the whole row's travel times, the prefix would rarely settle an order: the whole row then,
    as for a NaN or infinite floor.
    """
    count = travel.shape[0]
    if count <= _PREFIX:
        return count, math.inf
    fastest = ready_in_s[ready_in_s.argmin()]
    spread = ready_in_s.item(ready_in_s.argmax()) - fastest.item()  # a heuristic: Python floats
    if not travel.item(min(limit, count) - 1) + spread < travel.item(count - 1):
        return count, math.inf
    floor = float(fastest + travel[_PREFIX])
    return (_PREFIX, floor) if floor < math.inf else (count, math.inf)


def _rank_row(
    reach: np.ndarray,
    travel: np.ndarray,
    floor: float,
    *,
    items: tuple[tuple[str, int], ...],
    stores: StoreConditions,
    stock: StockView,
    limit: int,
) -> StoreChoice | None:
    """The choice over the first stores of the drop-off's row, or None when they cannot settle it.

    ``floor`` is a lower bound on the prediction of every store of the row not given (``inf``
    for the whole row). Stores out of range or closed are skipped as they are met: the usual
    order meets none, and checking a few costs less than masking the whole row.
    """
    nearest = _first_usable(reach, travel, stores)
    if nearest is None:
        return None
    ready = stores.ready_in_s
    key = ready.take(reach) + travel  # the prediction, in the dtype the arrays give it
    order = key.argsort()  # ties among equal keys are settled by the final sort
    if floor < math.inf and (limit > order.shape[0] or key.item(order.item(limit - 1)) >= floor):
        return None  # even the best keys reach the floor: the prefix cannot settle this order
    found = _scan_by_predicted_delivery(
        key, order, floor, reach=reach, travel=travel, items=items, stores=stores, stock=stock,
        limit=limit,
    )  # fmt: skip
    if found is None:
        return None
    found.sort()
    return StoreChoice(
        tuple([
            _new_tuple(Candidate, (s, sid, t, float(ready.item(s)), p, -neg_depth))
            for p, neg_depth, sid, s, t in found[:limit]
        ]),
        nearest,
    )  # fmt: skip


def _first_usable(reach: np.ndarray, travel: np.ndarray, stores: StoreConditions) -> int | None:
    """The nearest open store in range (the row is sorted by travel time), or None.

    Element by element: the first store nearly always qualifies.
    """
    radius, is_open = stores.radius_s, stores.is_open
    for j in range(reach.shape[0]):
        s = reach.item(j)
        if travel.item(j) <= radius.item(s) and is_open.item(s):
            return s
    return None


def _checked_lines(lines: Mapping[str, int], limit: int) -> tuple[tuple[str, int], ...]:
    """The order's lines as a tuple, after refusing an empty order, a line below 1, or limit < 1."""
    if not lines:
        raise ValueError("an order needs at least one line")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    items = tuple(lines.items())
    for sku, quantity in items:
        if quantity < 1:
            raise ValueError(f"line {sku!r} asks for {quantity} units")
    return items


def _scan_by_predicted_delivery(
    key: np.ndarray,
    order: np.ndarray,
    floor: float,
    *,
    reach: np.ndarray,
    travel: np.ndarray,
    items: tuple[tuple[str, int], ...],
    stores: StoreConditions,
    stock: StockView,
    limit: int,
) -> list[_Found] | None:
    """Usable stores with every line in stock, read in order of predicted delivery until ``limit``.

    The sorted order is read a chunk at a time: few stores are ever needed. Reading stops once
    ``limit`` are found and the next key is later than the last one (equal keys are kept, so the
    final sort can settle ties on depth and id). A key at or past ``floor`` means a store not
    given could come first: None, unless ``floor`` is ``inf`` (the whole row; an infinite
    prediction never delivers). Running out of given stores short of that is None too, unless
    it is the whole row.
    """
    radius, is_open, store_ids = stores.radius_s, stores.is_open, stores.store_ids
    skus_of = stock.store_skus
    found: list[_Found] = []
    bound = math.inf
    for start in range(0, order.shape[0], _CHUNK):
        for j in order[start : start + _CHUNK].tolist():
            p = key.item(j)
            if p > bound:
                return found
            if p >= floor:
                return None if floor < math.inf else found
            s, t = reach.item(j), travel.item(j)
            if not (t <= radius.item(s) and is_open.item(s)):  # out of range (NaN too) or closed
                continue
            depth = _spare_depth(skus_of(store_ids[s]), items)
            if depth < 0:
                continue
            found.append((p, -int(depth), store_ids[s], s, t))
            if len(found) == limit:
                bound = p
    return found if floor == math.inf else None


def _spare_depth(skus: Mapping[str, int], items: tuple[tuple[str, int], ...]) -> float:
    """Min over lines of available − requested; negative (early) as soon as one line is short."""
    if len(items) == 1:
        sku, quantity = items[0]
        return skus.get(sku, 0) - quantity
    depth: float = math.inf
    for sku, quantity in items:
        spare = skus.get(sku, 0) - quantity
        if spare < depth:
            depth = spare
            if spare < 0:
                break
    return depth
