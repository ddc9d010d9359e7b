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
_CHUNK = 16


# A store with every line in stock, before the final ranking: (predicted delivery, −depth,
# position in the drop-off's row of the tables, store index). A plain tuple: built per store
# scanned on the intake hot path, and it sorts as is.
_Found = tuple[float, int, int, int]


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
    usable = (travel <= stores.radius_s.take(reach)) & stores.is_open.take(reach)
    nearest = _nearest_usable(reach, usable)
    if nearest is None:
        return _NONE
    ready = stores.ready_in_s.take(reach)
    key = np.where(usable, ready + travel, math.inf)
    found = _scan_by_predicted_delivery(
        key, reach, items=items, store_ids=stores.store_ids, stock=stock, limit=limit
    )
    if len(found) > 1:
        found.sort(key=lambda f: (f[0], f[1], stores.store_ids[f[3]]))
    candidates = tuple(
        Candidate(store_index, stores.store_ids[store_index], float(travel[j]), float(ready[j]), p,
                  -neg_depth)
        for p, neg_depth, j, store_index in found[:limit]
    )
    return StoreChoice(candidates=candidates, nearest_in_range=nearest)


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


def _nearest_usable(reach: np.ndarray, usable: np.ndarray) -> int | None:
    """The nearest open store in range (rows are sorted by travel time), or None: out of area."""
    if reach.shape[0] == 0:
        return None
    first = int(usable.argmax())
    return int(reach[first]) if usable[first] else None


def _scan_by_predicted_delivery(
    key: np.ndarray,
    reach: np.ndarray,
    *,
    items: tuple[tuple[str, int], ...],
    store_ids: Sequence[str],
    stock: StockView,
    limit: int,
) -> list[_Found]:
    """Stores with every line in stock, read in order of predicted delivery until ``limit``.

    The sorted order is read a chunk at a time: few stores are ever needed. Reading stops once
    ``limit`` are found and the next key is later than the last one (equal keys are kept, so the
    final sort can settle ties on depth and id), or at the first out-of-range / closed store
    (its key is inf).
    """
    order = key.argsort()  # ties among equal keys are settled by the final sort
    found: list[_Found] = []
    bound = math.inf
    skus_of = stock.store_skus
    for start in range(0, order.shape[0], _CHUNK):
        chunk = order[start : start + _CHUNK]
        for j, p, store_index in zip(chunk.tolist(), key.take(chunk).tolist(),
                                     reach.take(chunk).tolist(), strict=True):
            if p > bound or p == math.inf:
                return found
            depth = _spare_depth(skus_of(store_ids[store_index]), items)
            if depth < 0:
                continue
            found.append((p, -int(depth), j, store_index))
            if len(found) == limit:
                bound = p
    return found


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
