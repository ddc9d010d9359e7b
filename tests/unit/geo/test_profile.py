from __future__ import annotations

import pytest

from geo.profile import SpeedProfile, parse_maxspeed_kmh


def test_speed_profile_defaults_to_18_kmh_ebike_without_motorways():
    profile = SpeedProfile()
    assert profile.speed_kmh == 18.0
    assert not profile.is_rideable("motorway")
    assert not profile.is_rideable(["primary", "motorway_link"])
    assert not profile.is_rideable("footway")
    assert profile.is_rideable("residential")


def test_speed_profile_caps_speed_by_maxspeed():
    profile = SpeedProfile(speed_kmh=25.0)
    assert profile.speed_on("residential", "15") == 15.0
    assert profile.speed_on("primary", "60") == 25.0
    assert profile.speed_on("primary", None) == 25.0
    assert SpeedProfile(speed_kmh=25.0, cap_by_maxspeed=False).speed_on("x", "15") == 25.0


def test_speed_profile_allows_footways_at_walking_speed_when_asked():
    profile = SpeedProfile(allow_footways=True, footway_speed_kmh=5.0)
    assert profile.is_rideable("footway")
    assert profile.speed_on("footway", None) == 5.0
    assert not profile.is_rideable("steps")


@pytest.mark.parametrize("speed", [0, -1, float("nan"), float("inf"), 500])
def test_speed_profile_rejects_bad_speed(speed):
    with pytest.raises(ValueError, match="speed_kmh"):
        SpeedProfile(speed_kmh=speed)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("40", 40.0), ("30 mph", 30 * 1.609344), (["50", "30"], 30.0), ("CN:urban", None),
     (None, None), ("none", None), (20, 20.0)],
)
def test_parse_maxspeed_reads_osm_values(raw, expected):
    assert parse_maxspeed_kmh(raw) == pytest.approx(expected) if expected else (
        parse_maxspeed_kmh(raw) is None
    )


def test_speed_profile_cache_key_changes_with_settings():
    assert SpeedProfile().cache_key() != SpeedProfile(speed_kmh=20).cache_key()
