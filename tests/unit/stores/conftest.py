"""The bundled district and its tables for store-choice tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.loading import load_road_network
from geo.network import RoadNetwork

BUNDLED = Path(__file__).resolve().parents[3] / "geo" / "data" / "shenzhen-nanshan-futian.drive.graphml"


@pytest.fixture(scope="session")
def district_network() -> RoadNetwork:
    return load_road_network(BUNDLED)
