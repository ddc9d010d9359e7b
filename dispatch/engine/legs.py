"""Store legs: travel times from courier locations to the round's stores, built once per round.

Every evaluation of the bundle search and every assignment wave asks how long each courier
needs to reach each store. Those times depend only on the courier's location and the store,
so they are computed once per location (a numpy row over the round's stores) and reused for
the whole round. A travel function with a ``matrix(origins, destinations)`` method (see
:class:`~dispatch.engine.model.TravelMatrix`) fills many rows in one call; any other is
asked pair by pair.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from dispatch.engine.model import TravelTime


class StoreLegs:
    """Travel seconds from any location to each of a fixed set of stores, one row per location.

    Parameters
    ----------
    stores
        The round's store locations (distinct); their order gives the column indices.
    travel
        Travel-time function (``math.inf`` when unreachable).
    """

    def __init__(self, stores: Sequence[Hashable], travel: TravelTime) -> None:
        self.stores: tuple[Hashable, ...] = tuple(stores)
        self.column: dict[Hashable, int] = {s: i for i, s in enumerate(self.stores)}
        self._travel = travel
        self._row: dict[Hashable, int] = {}
        self._table = np.full((16, len(self.stores)), np.nan)  # NaN: not computed yet
        self._last: tuple[tuple[tuple[Hashable, ...], bytes], np.ndarray] | None = None

    def columns(self, stores: Sequence[Hashable]) -> np.ndarray:
        """Column index of each given store location."""
        return np.fromiter((self.column[s] for s in stores), dtype=np.intp, count=len(stores))

    def matrix(
        self, locations: Sequence[Hashable], columns: np.ndarray | None = None
    ) -> np.ndarray:
        """Travel from each location to the given stores, shape (locations, columns), read-only.

        Parameters
        ----------
        locations
            Origins (repeats allowed).
        columns
            Store column indices (default: every store). Only the entries asked for are
            ever computed.

        Returns
        -------
        numpy.ndarray
            Seconds; ``inf`` where a store cannot be reached.
        """
        cols = np.arange(len(self.stores)) if columns is None else np.asarray(columns, dtype=np.intp)
        key = (tuple(locations), cols.tobytes())
        if self._last is not None and self._last[0] == key:
            return self._last[1]
        rows = np.fromiter(
            (self._row_of(loc) for loc in key[0]), dtype=np.intp, count=len(key[0])
        )
        out = self._table[np.ix_(rows, cols)]
        gaps = np.isnan(out)
        if gaps.any():
            self._fill(rows[gaps.any(axis=1)], cols)
            out = self._table[np.ix_(rows, cols)]
        out.setflags(write=False)
        self._last = (key, out)
        return out

    def _row_of(self, location: Hashable) -> int:
        row = self._row.get(location)
        if row is None:
            row = self._row[location] = len(self._row)
            if row >= self._table.shape[0]:
                grown = np.full((2 * self._table.shape[0], len(self.stores)), np.nan)
                grown[:row] = self._table
                self._table = grown
        return row

    def _fill(self, rows: np.ndarray, cols: np.ndarray) -> None:
        locations = list(self._row)
        rows = np.unique(rows)
        block = self._table[np.ix_(rows, cols)]
        many = getattr(self._travel, "matrix", None)
        if many is not None:
            # One call for every row that misses any of these columns.
            values = np.asarray(
                many([locations[r] for r in rows], [self.stores[c] for c in cols]), dtype=float
            )
            self._table[np.ix_(rows, cols)] = np.where(np.isnan(block), values, block)
            return
        for i, j in zip(*np.nonzero(np.isnan(block)), strict=True):
            r, c = int(rows[i]), int(cols[j])
            self._table[r, c] = self._travel(locations[r], self.stores[c])
