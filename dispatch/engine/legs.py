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
        self._rows: dict[Hashable, np.ndarray] = {}
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
        todo: dict[Hashable, np.ndarray] = {}
        for loc in dict.fromkeys(key[0]):
            row = self._rows.get(loc)
            if row is None:
                row = self._rows[loc] = np.full(len(self.stores), np.nan)
            gap = cols[np.isnan(row[cols])]
            if gap.size:
                todo[loc] = gap
        if todo:
            self._fill(todo)
        out = (
            np.stack([self._rows[loc][cols] for loc in key[0]])
            if key[0]
            else np.zeros((0, cols.size))
        )
        out.setflags(write=False)
        self._last = (key, out)
        return out

    def _fill(self, todo: dict[Hashable, np.ndarray]) -> None:
        many = getattr(self._travel, "matrix", None)
        if many is not None:
            # One call per distinct set of missing columns (usually one for all origins).
            groups: dict[bytes, list[Hashable]] = {}
            for loc, gap in todo.items():
                groups.setdefault(gap.tobytes(), []).append(loc)
            for origins in groups.values():
                gap = todo[origins[0]]
                block = np.asarray(many(origins, [self.stores[c] for c in gap]), dtype=float)
                for loc, values in zip(origins, block, strict=True):
                    self._rows[loc][gap] = values
            return
        for loc, gap in todo.items():
            row = self._rows[loc]
            for c in gap.tolist():
                row[c] = self._travel(loc, self.stores[c])
