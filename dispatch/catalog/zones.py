"""Zone modes: an operator's plan for a zone in bad weather or overload (DESIGN.md section 14).

A mode applies to new orders only: a closed zone's stores take none; a closed area refuses
drop-offs inside its polygon; a radius factor shrinks every store's delivery radius there; a
promise extension lengthens the promise of orders from the zone's stores; ``on_overload``
says what intake does when the honest prediction is past the promise. Kept in memory as an
immutable value per version, so intake reads it without a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from shapely import make_valid
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from shapely.prepared import PreparedGeometry, prep

from stores.catalog import StoreCatalog

ON_OVERLOAD = ("accept", "extend", "refuse")


@dataclass(frozen=True, slots=True)
class ZoneMode:
    zone: str
    reason: str
    radius_factor: float = 1.0
    promise_extension_minutes: int = 0
    closed: bool = False
    closed_area: Mapping[str, Any] | None = None  # a GeoJSON Polygon, as given
    on_overload: str = "accept"
    until: datetime | None = None
    set_at: datetime | None = None
    area: PreparedGeometry | None = field(default=None, compare=False, repr=False)

    @staticmethod
    def polygon(geojson: Mapping[str, Any]) -> BaseGeometry:
        """The area a GeoJSON Polygon encloses. A self-crossing ring is read as shapely's
        ``make_valid`` reads it (a bow tie: its two triangles); a flat one encloses nothing."""
        if geojson.get("type") != "Polygon":
            raise ValueError("must be a GeoJSON Polygon")
        return make_valid(shape(geojson))

    def prepared(self) -> ZoneMode:
        """This mode with its closed area ready for fast point tests."""
        if self.closed_area is None or self.area is not None:
            return self
        return ZoneMode(
            self.zone, self.reason, self.radius_factor, self.promise_extension_minutes, self.closed,
            self.closed_area, self.on_overload, self.until, self.set_at, prep(self.polygon(self.closed_area)),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ZoneModes:
    """Every active mode, by zone (an immutable value: replace it to change it)."""

    by_zone: Mapping[str, ZoneMode] = field(default_factory=dict)

    @classmethod
    def of(cls, modes: Iterable[ZoneMode]) -> ZoneModes:
        return cls({m.zone: m.prepared() for m in modes})

    def closed_area_at(self, lat: float, lon: float) -> ZoneMode | None:
        """The mode whose closed area holds this point, if any."""
        point: Point | None = None  # built only when some mode has a closed area (the common case has none)
        for mode in self.by_zone.values():
            if mode.area is not None:
                point = point or Point(lon, lat)
                if mode.area.contains(point):
                    return mode
        return None

    def extension_minutes(self, zone: str) -> int:
        mode = self.by_zone.get(zone)
        return mode.promise_extension_minutes if mode else 0

    def store_arrays(self, catalog: StoreCatalog) -> tuple[np.ndarray, np.ndarray]:
        """(radius factor, taking orders) per store of the catalog, by position."""
        factor = np.ones(len(catalog.stores))
        taking = np.ones(len(catalog.stores), dtype=bool)
        if self.by_zone:
            for i, store in enumerate(catalog.stores):
                mode = self.by_zone.get(store.zone)
                if mode is not None:
                    factor[i] = mode.radius_factor
                    taking[i] = not mode.closed
        return factor, taking


class ZoneModeKeeper:
    """The current modes (swapped whole on every change) and their per-store arrays, cached
    for the current catalog so intake pays nothing while no mode changes."""

    def __init__(self) -> None:
        self.current = ZoneModes()
        self._arrays: tuple[int, int, np.ndarray, np.ndarray] | None = None

    def replace(self, modes: ZoneModes) -> None:
        self.current = modes
        self._arrays = None

    def radius_and_taking(
        self, catalog: StoreCatalog, open_mask: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Every store's delivery radius (s) under the modes, and whether it takes orders now."""
        if not self.current.by_zone:
            return catalog.radius_s, open_mask
        cached = self._arrays
        if cached is None or cached[0] != id(catalog) or cached[1] != id(self.current):
            factor, taking = self.current.store_arrays(catalog)
            cached = self._arrays = (id(catalog), id(self.current), catalog.radius_s * factor, taking)
        return cached[2], open_mask & cached[3]
