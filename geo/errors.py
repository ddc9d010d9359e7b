"""Road network errors: the geo package's domain failures, each with a stable code."""

from __future__ import annotations


class GeoError(Exception):
    """Base of every road network error; ``code`` is stable and goes into API bodies."""

    code: str = "geo_error"


class OutOfArea(GeoError):
    """A point is not on the served road network (too far from any road, or not a coordinate)."""

    code = "out_of_area"


class NetworkLoadError(GeoError):
    """A road network file or place could not be read into a usable courier network."""

    code = "bad_road_network"


class Unreachable(GeoError):
    """No road path joins two nodes of the network."""

    code = "unreachable"
