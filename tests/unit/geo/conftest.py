"""Shared road networks for the geo tests: the bundled district and a small raw OSM extract."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.loading import load_road_network
from geo.network import RoadNetwork

REPO = Path(__file__).resolve().parents[3]
BUNDLED = REPO / "geo" / "data" / "shenzhen-nanshan-futian.drive.graphml"
OSM_DIR = REPO / "tests" / "data" / "osm"
JINGAN = OSM_DIR / "shanghai-jingan.osm"


@pytest.fixture(scope="session")
def district() -> RoadNetwork:
    return load_road_network(BUNDLED)


@pytest.fixture(scope="session")
def jingan() -> RoadNetwork:
    return load_road_network(JINGAN)
