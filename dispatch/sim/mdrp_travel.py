"""MDRP travel for the engine: the instance's rule in seconds, pair by pair or as a matrix."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Protocol

import numpy as np

MINUTE_S = 60


class PlacedInstance(Protocol):
    """What travel needs of an MDRP instance (dispatch.sim.mdrp.MdrpInstance is one)."""

    @property
    def meters_per_minute(self) -> float: ...

    def travel_minutes(self, a: str, b: str) -> float: ...

    def location(self, place: str) -> tuple[float, float]: ...


class InstanceTravel:
    """The instance's travel time in seconds between place ids, memoised; many pairs at once.

    ``matrix`` gives exactly the pair-by-pair values (entries on a whole-minute boundary,
    where numpy's and Python's square roots could round apart, are computed one by one).
    """

    def __init__(self, instance: PlacedInstance) -> None:
        self.instance = instance
        self._memo: dict[tuple[Hashable, Hashable], float] = {}

    def __call__(self, a: Hashable, b: Hashable) -> float:
        key = (a, b)
        value = self._memo.get(key)
        if value is None:
            value = float(self.instance.travel_minutes(str(a), str(b)) * MINUTE_S)
            self._memo[key] = value
        return value

    def matrix(self, origins: Sequence[Hashable], destinations: Sequence[Hashable]) -> np.ndarray:
        """Travel seconds from each origin to each destination, shape (origins, destinations)."""
        a = np.array([self.instance.location(str(p)) for p in origins], dtype=float).reshape(-1, 2)
        b = np.array([self.instance.location(str(p)) for p in destinations], dtype=float)
        b = b.reshape(-1, 2)
        q = np.hypot(b[None, :, 0] - a[:, None, 0], b[None, :, 1] - a[:, None, 1])
        q = q / self.instance.meters_per_minute
        out = np.ceil(q) * MINUTE_S
        for i, j in zip(*np.nonzero(np.abs(q - np.round(q)) < 1e-9), strict=True):
            out[i, j] = self(origins[i], destinations[j])
        return out
