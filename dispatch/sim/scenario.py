"""The rain scenario's day (issue 13): what it changes about the default day, and who reacts."""

from __future__ import annotations

from dataclasses import dataclass

from dispatch.sim.weather import Weather, rain_between

NOON_MIN = 120.0  # the day starts at 10:00, so 12:00 is two hours in
RAIN_AT_NOON = rain_between(NOON_MIN, NOON_MIN + 60.0)


@dataclass(frozen=True, slots=True)
class RainDay:
    """Rain from 12:00 to 13:00 over the whole city; ten minutes in, the two shops that have taken
    the most orders fall behind and go busy themselves until the rain stops; an operator at the
    console pulls ``lever`` (an ``on_overload``) in a zone whose last half hour slips under 95%,
    or only watches when ``lever`` is None."""

    weather: Weather = RAIN_AT_NOON
    busy_stores: int = 2
    busy_after_min: float = 10.0
    extra_pick_minutes: float = 10.0
    lever: str | None = None

    @property
    def busy_from_s(self) -> float:
        return self.weather.rain_from_s + self.busy_after_min * 60.0
