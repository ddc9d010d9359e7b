"""Zone modes as values: closed areas (shapely) and what a mode does to each store's arrays."""

from __future__ import annotations

import numpy as np

from dispatch.catalog.zones import ZoneMode, ZoneModes

SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]}
BOW_TIE = {"type": "Polygon", "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]]}


def test_a_closed_area_holds_the_points_inside_and_not_those_outside():
    modes = ZoneModes.of([ZoneMode(zone="z", reason="flood", closed_area=SQUARE)])
    assert modes.closed_area_at(lat=1.0, lon=1.0).reason == "flood"
    assert modes.closed_area_at(lat=3.0, lon=1.0) is None


def test_a_self_crossing_ring_closes_its_two_triangles_and_not_the_gap_between():
    modes = ZoneModes.of([ZoneMode(zone="z", reason="r", closed_area=BOW_TIE)])
    assert modes.closed_area_at(lat=1.0, lon=0.5) is not None  # the left triangle
    assert modes.closed_area_at(lat=0.5, lon=1.0) is None  # below the crossing: outside both


def test_extension_and_per_store_arrays_follow_the_zones():
    modes = ZoneModes.of([ZoneMode(zone="a", reason="r", radius_factor=0.5, promise_extension_minutes=7),
                          ZoneMode(zone="b", reason="r", closed=True)])
    assert (modes.extension_minutes("a"), modes.extension_minutes("c")) == (7, 0)

    class Store:
        def __init__(self, zone):
            self.zone = zone

    class Catalog:
        stores = (Store("a"), Store("b"), Store("c"))

    factor, taking = modes.store_arrays(Catalog())  # type: ignore[arg-type]
    assert factor.tolist() == [0.5, 1.0, 1.0] and taking.tolist() == [True, False, True]
    assert isinstance(factor, np.ndarray)
