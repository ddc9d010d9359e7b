"""Split store choice: the best two stores that together fill an order no single store can (pure).

Each line comes whole from one of the two stores (a unit count is never split), from the faster
one when both have it. Pairs are ranked by when the later leg would arrive, then by the sum of
both legs' predictions: the order arrives with its last leg, and a second courier costs too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

from stores.choice import Candidate, StoreConditions, rank_stores

if TYPE_CHECKING:
    from geo.tables import TravelTimeTables
    from stores.stock_view import StockView

Lines = tuple[tuple[str, int], ...]


class SplitChoice(NamedTuple):
    """Two stores and the lines each gives (the faster store first)."""

    first: Candidate
    first_lines: Lines
    second: Candidate
    second_lines: Lines


def best_pair(
    *,
    node: int,
    lines: Mapping[str, int],
    tables: TravelTimeTables,
    stores: StoreConditions,
    stock: StockView,
    per_line: int = 6,
    exclude: frozenset[str] = frozenset(),
) -> SplitChoice | None:
    """The best pair of stores in range that together hold every line, or None.

    Only stores among the ``per_line`` best for some line are considered: a store that is not
    among the nearest holders of any line would not make a better pair.
    """
    found: dict[int, Candidate] = {}
    for sku, quantity in lines.items():
        choice = rank_stores(
            node=node, lines={sku: quantity}, tables=tables, stores=stores, stock=stock, limit=per_line
        )
        for candidate in choice.candidates:
            if candidate.store_id not in exclude:
                found.setdefault(candidate.store_index, candidate)
    ranked = sorted(found.values(), key=lambda c: (c.predicted_delivery_s, c.store_id))
    best: tuple[tuple[float, float], SplitChoice] | None = None
    for i, a in enumerate(ranked):
        for b in ranked[i + 1 :]:
            split = _divide(a, b, lines, stock)
            if split is None:
                continue
            cost = (
                max(a.predicted_delivery_s, b.predicted_delivery_s),
                a.predicted_delivery_s + b.predicted_delivery_s,
            )
            if best is None or cost < best[0]:
                best = (cost, split)
    return None if best is None else best[1]


def _divide(a: Candidate, b: Candidate, lines: Mapping[str, int], stock: StockView) -> SplitChoice | None:
    """Each line to ``a`` when it has it, else to ``b``; None unless both give something."""
    to_a: list[tuple[str, int]] = []
    to_b: list[tuple[str, int]] = []
    for sku, quantity in sorted(lines.items()):
        if stock.available(a.store_id, sku) >= quantity:
            to_a.append((sku, quantity))
        elif stock.available(b.store_id, sku) >= quantity:
            to_b.append((sku, quantity))
        else:
            return None
    if not to_a or not to_b:
        return None
    return SplitChoice(a, tuple(to_a), b, tuple(to_b))
