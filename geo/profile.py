"""Courier speed profile: which roads a courier may ride and how fast."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

#: Highway types a courier on an e-bike never rides (motorways, and paths not meant for vehicles).
DEFAULT_EXCLUDED_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "footway",
        "steps",
        "pedestrian",
        "path",
        "bridleway",
        "corridor",
        "elevator",
        "escalator",
        "platform",
        "proposed",
        "construction",
        "abandoned",
        "razed",
        "raceway",
        "bus_guideway",
        "busway",
        "rest_area",
        "services",
        "via_ferrata",
    }
)

#: Foot-only highway types that ``allow_footways=True`` lets a courier walk the bike along.
FOOTWAY_HIGHWAYS: frozenset[str] = frozenset({"footway", "pedestrian", "path"})

#: Every value of ``highway`` on a way that is a road, path or link of some kind.
ROAD_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway",
        "motorway_link",
        "trunk",
        "trunk_link",
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
        "track",
        "cycleway",
        "busway",
        "footway",
        "pedestrian",
        "path",
        "steps",
        "bridleway",
    }
)

_MPH = 1.609344
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """How a courier moves: a cruising speed capped by each road's ``maxspeed``.

    Parameters
    ----------
    name
        Label for reports and cache keys.
    speed_kmh
        Cruising speed on an ordinary road (e-bike default 18 km/h).
    cap_by_maxspeed
        If true, a road's ``maxspeed`` (when lower) caps the speed on it.
    excluded_highways
        Highway types never ridden (motorways, steps, foot-only ways ...).
    allow_footways
        If true, ``footway``/``pedestrian``/``path`` are ridden at ``footway_speed_kmh``.
    footway_speed_kmh
        Speed on foot-only ways when they are allowed (walking the bike).
    """

    name: str = "e-bike"
    speed_kmh: float = 18.0
    cap_by_maxspeed: bool = True
    excluded_highways: frozenset[str] = DEFAULT_EXCLUDED_HIGHWAYS
    allow_footways: bool = False
    footway_speed_kmh: float = 5.0

    def __post_init__(self) -> None:
        if not isinstance(self.excluded_highways, frozenset):
            object.__setattr__(self, "excluded_highways", frozenset(self.excluded_highways))
        for label, value in (("speed_kmh", self.speed_kmh),
                             ("footway_speed_kmh", self.footway_speed_kmh)):
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= 150):
                raise ValueError(f"SpeedProfile.{label} must be in (0, 150] km/h, got {value!r}")
        if not self.name:
            raise ValueError("SpeedProfile.name must not be empty")

    def is_rideable(self, highway: str | list[str] | None) -> bool:
        """Whether a way (or a simplified edge with several highway values) may be ridden.

        Parameters
        ----------
        highway
            The ``highway`` tag value, or a list of them for a simplified edge.

        Returns
        -------
        bool
            False when any part of the way is of a type this profile excludes.
        """
        if highway is None:
            return False
        values = highway if isinstance(highway, list) else [highway]
        for value in values:
            if value in FOOTWAY_HIGHWAYS and self.allow_footways:
                continue
            if value in self.excluded_highways:
                return False
        return True

    def speed_on(self, highway: str | list[str] | None, maxspeed: object) -> float:
        """Speed in km/h on one edge.

        Parameters
        ----------
        highway
            The edge's ``highway`` value(s).
        maxspeed
            The edge's ``maxspeed`` tag (number, text such as ``"50"``/``"30 mph"``, or a list).

        Returns
        -------
        float
            The profile speed, lowered to the posted limit when capping is on.
        """
        values = highway if isinstance(highway, list) else [highway]
        if self.allow_footways and any(v in FOOTWAY_HIGHWAYS for v in values):
            return self.footway_speed_kmh
        speed = self.speed_kmh
        if self.cap_by_maxspeed:
            limit = parse_maxspeed_kmh(maxspeed)
            if limit is not None:
                speed = min(speed, limit)
        return speed

    def cache_key(self) -> str:
        """A stable text naming every setting, for cache file names."""
        excluded = ",".join(sorted(self.excluded_highways))
        return (
            f"{self.name}|{self.speed_kmh!r}|{self.cap_by_maxspeed}|{excluded}|"
            f"{self.allow_footways}|{self.footway_speed_kmh!r}"
        )


def parse_maxspeed_kmh(maxspeed: object) -> float | None:
    """Read an OSM ``maxspeed`` value in km/h; None when absent or not a number.

    Parameters
    ----------
    maxspeed
        A number, a text such as ``"40"``, ``"30 mph"``, or a list of those (the lowest wins).

    Returns
    -------
    float or None
        The limit in km/h, or None for values such as ``"CN:urban"`` or ``"none"``.
    """
    if maxspeed is None:
        return None
    if isinstance(maxspeed, list | tuple):
        parsed = [p for p in (parse_maxspeed_kmh(v) for v in maxspeed) if p is not None]
        return min(parsed) if parsed else None
    if isinstance(maxspeed, int | float):
        value = float(maxspeed)
        return value if math.isfinite(value) and value > 0 else None
    text = str(maxspeed).strip().lower()
    match = _NUMBER.search(text)
    if match is None:
        return None
    value = float(match.group())
    if "mph" in text:
        value *= _MPH
    return value if value > 0 else None


#: The default courier: an e-bike at 18 km/h, capped by maxspeed, never on motorways or footways.
DEFAULT_PROFILE = SpeedProfile()
