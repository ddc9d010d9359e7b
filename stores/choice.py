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


_NONE = StoreChoice(candidates=(), nearest_in_range=None)
_CHUNK = 16


def choose_store(
    *,
    node: int,
    lines: Mapping[str, int],
    tables: TravelTimeTables,
    store_ids: Sequence[str],
    radius_s: np.ndarray,
    ready_in_s: np.ndarray,
    is_open: np.ndarray,
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
    store_ids
        Store id by store index.
    radius_s
        Per store: the longest store → drop-off ride it serves, in seconds.
    ready_in_s
        Per store: seconds from now until an order placed now could leave the store
        (max of pick time + backlog and the courier arrival estimate; the caller computes it).
    is_open
        Per store: whether it takes orders now.
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
    if not lines:
        raise ValueError("an order needs at least one line")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    items = tuple(lines.items())
    for sku, quantity in items:
        if quantity < 1:
            raise ValueError(f"line {sku!r} asks for {quantity} units")
    stores, travel = tables.stores_in_reach(node)
    if stores.shape[0] == 0:
        return _NONE
    usable = (travel <= radius_s.take(stores)) & is_open.take(stores)
    first = int(usable.argmax())
    if not usable[first]:
        return _NONE
    nearest = int(stores[first])  # rows are sorted by travel time
    ready = ready_in_s.take(stores)
    key = np.where(usable, ready + travel, math.inf)
    order = key.argsort()  # ties among equal keys are settled by the final sort below
    found: list[tuple[float, int, int, int]] = []  # (predicted, -depth, position, store index)
    bound = math.inf
    skus_of = stock.store_skus
    single = items[0] if len(items) == 1 else None
    total = order.shape[0]
    start = 0
    while start < total:  # read the sorted order a chunk at a time: few are ever needed
        chunk = order[start : start + _CHUNK]
        start += _CHUNK
        keys = key.take(chunk).tolist()
        if keys[0] > bound or keys[0] == math.inf:
            break
        for j, p, store_index in zip(chunk.tolist(), keys, stores.take(chunk).tolist(),
                                     strict=True):
            if p > bound or p == math.inf:
                start = total  # `limit` found and no later store ties the last, or the rest
                break  # are out of range / closed (their key is inf)
            skus = skus_of(store_ids[store_index])
            depth: float
            if single is not None:
                depth = skus.get(single[0], 0) - single[1]
            else:
                depth = math.inf
                for sku, quantity in items:
                    spare = skus.get(sku, 0) - quantity
                    if spare < depth:
                        depth = spare
                        if spare < 0:
                            break
            if depth < 0:
                continue
            found.append((p, -int(depth), j, store_index))
            if len(found) == limit:
                bound = p
    if not found:
        return StoreChoice(candidates=(), nearest_in_range=nearest)
    if len(found) > 1:
        found.sort(key=lambda f: (f[0], f[1], store_ids[f[3]]))
    candidates = tuple(
        Candidate(store_index, store_ids[store_index], float(travel[j]), float(ready[j]), p,
                  -neg_depth)
        for p, neg_depth, j, store_index in found[:limit]
    )
    return StoreChoice(candidates=candidates, nearest_in_range=nearest)
