"""The rain scenario's weather: 35% slower and 50% more orders inside the window, nothing outside."""

from __future__ import annotations

import pytest

from dispatch.sim.city import DemoConfig, order_rate
from dispatch.sim.couriers import Couriers, _metres
from dispatch.sim.scenario import RAIN_AT_NOON, RainDay
from dispatch.sim.weather import DRY, Weather, rain_between

DRY_MPS = 5.0


def test_weather_slows_couriers_35_percent_only_while_it_rains():
    rain = rain_between(120, 180)
    assert rain.speed_mps(DRY_MPS, 120 * 60.0) == pytest.approx(DRY_MPS * 0.65)
    assert rain.speed_mps(DRY_MPS, 150 * 60.0) == pytest.approx(3.25)
    assert rain.speed_mps(DRY_MPS, 120 * 60.0 - 1) == DRY_MPS  # before
    assert rain.speed_mps(DRY_MPS, 180 * 60.0) == DRY_MPS  # the end is dry again
    assert DRY.speed_mps(DRY_MPS, 150 * 60.0) == DRY_MPS


def test_weather_raises_demand_by_half_only_while_it_rains():
    rain = rain_between(120, 180)
    assert [rain.demand(m * 60.0) for m in (0, 119, 120, 179, 180, 239)] == [1.0, 1.0, 1.5, 1.5, 1.0, 1.0]
    assert DRY.demand(150 * 60.0) == 1.0


def test_order_rate_is_half_again_inside_the_rain_and_the_same_outside():
    dry, wet = DemoConfig(), DemoConfig(weather=RAIN_AT_NOON)
    for minute in range(dry.minutes):
        factor = 1.5 if 120 <= minute < 180 else 1.0
        assert order_rate(wet, minute) == pytest.approx(order_rate(dry, minute) * factor)
    assert order_rate(wet, 150) > order_rate(dry, 150) > 0


def test_the_rain_day_rains_from_noon_to_one():
    day = RainDay()
    assert (day.weather.rain_from_s, day.weather.rain_until_s) == (2 * 3600.0, 3 * 3600.0)  # day starts 10:00
    assert day.busy_from_s == 2 * 3600.0 + 600.0 and day.busy_stores == 2


@pytest.mark.parametrize("start_s, factor", [(100 * 60.0, 1.0), (150 * 60.0, 1 / 0.65)])
def test_a_courier_rides_the_same_route_longer_in_the_rain(start_s, factor):
    couriers = Couriers(config=DemoConfig(weather=RAIN_AT_NOON), api=None, events=None, records={}, rng=None)  # type: ignore[arg-type]
    route = [(113.930, 22.530), (113.932, 22.531), (113.935, 22.533)]
    stop = {"route": {"coordinates": [list(p) for p in route]}, "location": {"lon": 113.936, "lat": 22.534}}
    points = [(start_s, *route[0])]
    arrival = couriers._ride_to(stop, points, start_s)
    metres = sum(_metres(a, b) for a, b in zip([route[0], *route], [*route, (113.936, 22.534)], strict=True))
    assert arrival - start_s == pytest.approx(metres / DemoConfig().courier_speed_mps * factor)


def test_weather_refuses_nonsense():
    with pytest.raises(ValueError, match="slowdown"):
        Weather(slowdown=1.0)
    with pytest.raises(ValueError, match="demand_factor"):
        Weather(demand_factor=0.0)
    with pytest.raises(ValueError, match="end before"):
        Weather(rain_from_s=10.0, rain_until_s=5.0)
