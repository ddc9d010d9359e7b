"""A small real world for service-layer unit tests: the bundled district, two stores on it, and
the in-memory fakes of the ports (tests/unit/services/fakes.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from dispatch.catalog.keeper import CatalogKeeper
from dispatch.catalog.load import StoreLoad
from dispatch.settings import Policy
from geo.loading import load_road_network
from geo.network import RoadNetwork
from stores.model import Store

BUNDLED = Path(__file__).resolve().parents[3] / "geo" / "data" / "shenzhen-nanshan-futian.drive.graphml"
POLICY = Policy()


@pytest.fixture(scope="session")
def district() -> RoadNetwork:
    return load_road_network(BUNDLED)


@pytest.fixture(scope="session")
def sites(district: RoadNetwork) -> dict[str, int]:
    """Store A in the middle, store B 5-8 min away, a drop-off 1-3 min from A."""
    lat, lon = district.lat, district.lon
    a = int(np.argmin(np.abs(lat - np.median(lat)) + np.abs(lon - np.median(lon))))
    times = dijkstra(district.csr, indices=a, limit=900)
    drop = int(np.flatnonzero((times >= 60) & (times <= 180))[0])
    b = int(np.flatnonzero((times >= 300) & (times <= 480))[0])
    return {"a": a, "b": b, "drop": drop}


def store(network: RoadNetwork, store_id: str, node: int) -> Store:
    return Store(store_id=store_id, name=store_id, lat=float(network.lat[node]), lon=float(network.lon[node]),
                 zone="z", pick_minutes=5.0, radius_minutes=20.0, opening_hours=None, stock_version=0)


@pytest.fixture
async def keeper(district: RoadNetwork, sites: dict[str, int]) -> CatalogKeeper:
    keeper = CatalogKeeper(district, max_snap_m=POLICY.max_snap_m, cutoff_s=POLICY.table_cutoff_s)
    stores = [store(district, "A", sites["a"]), store(district, "B", sites["b"])]

    async def load() -> list[Store]:
        return stores

    await keeper.rebuild(load)
    return keeper


@pytest.fixture
def load() -> StoreLoad:
    return StoreLoad(parallel_picks=POLICY.parallel_picks, default_courier_eta_s=POLICY.default_courier_eta_s)
