"""A benchmark city: stores spread over the road network, stocked SKUs, reachable drop-offs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import aiohttp
import numpy as np

from dispatch.bench.report import say

if TYPE_CHECKING:
    from geo.network import RoadNetwork


@dataclass(frozen=True, slots=True)
class BenchCity:
    """Where the stores are and where orders go (plain values, picklable for load workers)."""

    store_ids: tuple[str, ...]
    store_points: tuple[tuple[float, float], ...]
    skus: tuple[str, ...]
    drop_points: tuple[tuple[float, float], ...]
    zone: str = "bench"


def plan_city(
    network: RoadNetwork,
    *,
    stores: int,
    skus: int,
    seed: int = 1,
    radius_s: float = 1200.0,
    drop_points: int = 2000,
) -> BenchCity:
    """Stores on random nodes; drop-offs sampled from nodes some store reaches well within radius."""
    from scipy.sparse.csgraph import dijkstra

    if stores < 1 or stores > network.node_count:
        raise ValueError(f"--stores must be between 1 and {network.node_count} on this network")
    rng = np.random.default_rng(seed)
    nodes = rng.choice(network.node_count, size=stores, replace=False)
    reach = dijkstra(network.csr, indices=nodes, limit=radius_s * 0.8, min_only=True)
    covered = np.flatnonzero(np.isfinite(reach))
    picked = rng.choice(covered, size=min(drop_points, covered.size), replace=False)
    return BenchCity(
        store_ids=tuple(f"bench-store-{i:04d}" for i in range(stores)),
        store_points=tuple((float(network.lat[n]), float(network.lon[n])) for n in nodes),
        skus=tuple(f"sku-{j:05d}" for j in range(skus)),
        drop_points=tuple((float(network.lat[n]), float(network.lon[n])) for n in picked),
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _expect(response: aiohttp.ClientResponse, *statuses: int) -> dict:
    body = await response.json(content_type=None)
    if response.status not in statuses:
        raise RuntimeError(f"{response.method} {response.url.path} answered {response.status}: {body}")
    return body


async def create_token(
    session: aiohttp.ClientSession, base_url: str, operator_token: str, role: str, **scope: str
) -> str:
    """A new API token made through ``POST /v1/tokens``."""
    async with session.post(
        f"{base_url}/v1/tokens", json={"role": role, **scope}, headers=bearer(operator_token)
    ) as response:
        return (await _expect(response, 201))["token"]


async def seed_stores(
    session: aiohttp.ClientSession,
    base_url: str,
    operator_token: str,
    city: BenchCity,
    *,
    quantity: int,
    concurrency: int = 8,
) -> None:
    """Register every store and give it a snapshot of every SKU (version 1), through the API."""
    import asyncio

    headers = bearer(operator_token)
    items = [{"sku": sku, "quantity": quantity} for sku in city.skus]
    gate = asyncio.Semaphore(concurrency)

    async def one(store_id: str, point: tuple[float, float]) -> None:
        async with gate:
            body = {"name": store_id, "location": {"lat": point[0], "lon": point[1]}, "zone": city.zone}
            async with session.put(f"{base_url}/v1/stores/{store_id}", json=body, headers=headers) as r:
                await _expect(r, 200, 201)
            async with session.put(
                f"{base_url}/v1/stores/{store_id}/stock",
                json={"version": 1, "items": items},
                headers=headers,
            ) as r:
                await _expect(r, 200)

    await asyncio.gather(*(one(s, p) for s, p in zip(city.store_ids, city.store_points, strict=True)))
    say(f"seeded {len(city.store_ids)} stores × {len(city.skus)} SKUs")


async def seed_couriers(
    session: aiohttp.ClientSession,
    base_url: str,
    operator_token: str,
    city: BenchCity,
    *,
    couriers: int,
    seed: int = 2,
) -> tuple[str, ...]:
    """Register couriers and put them on shift at random drop-off points, through the API."""
    rng = np.random.default_rng(seed)
    headers = bearer(operator_token)
    ids = tuple(f"bench-courier-{i:04d}" for i in range(couriers))
    for courier_id in ids:
        lat, lon = city.drop_points[int(rng.integers(len(city.drop_points)))]
        async with session.put(
            f"{base_url}/v1/couriers/{courier_id}",
            json={"name": courier_id, "zone": city.zone, "capacity": 3},
            headers=headers,
        ) as r:
            await _expect(r, 200, 201)
        async with session.post(
            f"{base_url}/v1/couriers/{courier_id}/shift",
            json={"state": "on", "position": {"lat": lat, "lon": lon}},
            headers=headers,
        ) as r:
            await _expect(r, 200)
    say(f"seeded {couriers} couriers on shift")
    return ids
