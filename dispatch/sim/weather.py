"""The simulated day's weather: dry, or one rain window that slows couriers and raises demand.

Only the simulator knows it: the service has no weather or speed setting, so its predictions
ride at the dry speed while it rains — as a real dispatch service would until its travel
times caught up. A dry ``Weather()`` changes nothing, to the bit, so the default day stays
the same day.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Weather:
    """Rain from ``rain_from_s`` to ``rain_until_s`` (seconds of the simulated day, end excluded).

    Inside the window couriers ride ``slowdown`` slower (speed × (1 − slowdown)) and orders
    arrive ``demand_factor`` times as often; outside it nothing changes. An empty window
    (the default) is a dry day.
    """

    rain_from_s: float = 0.0
    rain_until_s: float = 0.0
    slowdown: float = 0.35
    demand_factor: float = 1.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.slowdown < 1.0:
            raise ValueError(f"slowdown must be in [0, 1), got {self.slowdown!r}")
        if self.demand_factor <= 0.0:
            raise ValueError(f"demand_factor must be positive, got {self.demand_factor!r}")
        if self.rain_until_s < self.rain_from_s:
            raise ValueError("the rain must not end before it starts")

    def is_raining(self, t_s: float) -> bool:
        return self.rain_from_s <= t_s < self.rain_until_s

    def speed_mps(self, dry_mps: float, t_s: float) -> float:
        """A courier's speed at second ``t_s``: the dry speed, or ``slowdown`` less in the rain."""
        return dry_mps * (1.0 - self.slowdown) if self.is_raining(t_s) else dry_mps

    def demand(self, t_s: float) -> float:
        """The factor on the order rate at second ``t_s``: 1 when dry."""
        return self.demand_factor if self.is_raining(t_s) else 1.0


DRY = Weather()


def rain_between(from_min: float, until_min: float) -> Weather:
    """Rain from ``from_min`` to ``until_min`` minutes into the day (35% slower, 50% more orders)."""
    return Weather(rain_from_s=from_min * 60.0, rain_until_s=until_min * 60.0)
