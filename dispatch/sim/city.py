"""A simulated city for the demo: shops, their shelves, couriers and the day's orders (seeded).

Everything here is generated from the road network and a seed, so a run can be repeated
exactly. Nothing here talks to the service: the demo runner turns these plans into API calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np
from scipy.sparse.csgraph import dijkstra

from dispatch.sim.weather import DRY, Weather
from geo.network import RoadNetwork


@dataclass(frozen=True, slots=True)
class DemoConfig:
    """The simulated day. Rates are orders per minute over the whole city."""

    stores: int = 40
    couriers: int = 100
    minutes: int = 240
    start: datetime = datetime(2026, 11, 23, 2, 0)  # 10:00 in Shanghai (UTC+8), a Monday
    peak_start_min: int = 30  # 10:30
    peak_end_min: int = 210  # 13:30
    base_rate: float = 2.0
    peak_rate: float = 8.0
    catalog_skus: int = 3000
    skus_per_store: int = 2000
    popular_skus: int = 300
    seed: int = 7
    tick_s: float = 15.0
    position_every_s: float = 120.0
    restock_every_s: float = 900.0
    cancel_share: float = 0.01
    reject_share: float = 0.01
    courier_speed_mps: float = 18 / 3.6
    max_drain_min: int = 180
    # shelf noise (DESIGN.md section 15): a shop's count is wrong for this share of lines at pick time,
    # and this share of orders lets the service split them across two shops
    short_line_share: float = 0.03
    split_share: float = 0.05
    weather: Weather = DRY  # unless a scenario says otherwise

    def __post_init__(self) -> None:
        if self.stores < 1 or self.couriers < 1 or self.minutes < 1:
            raise ValueError("stores, couriers and minutes must be at least 1")
        if self.skus_per_store > self.catalog_skus or self.popular_skus > self.skus_per_store:
            raise ValueError("popular_skus <= skus_per_store <= catalog_skus")


@dataclass(frozen=True, slots=True)
class ShopPlan:
    store_id: str
    name: str
    node: int
    lat: float
    lon: float
    zone: str
    pick_minutes: float
    stock: dict[str, int]


@dataclass(frozen=True, slots=True)
class CourierPlan:
    courier_id: str
    zone: str
    node: int
    shift_start_s: float
    capacity: int


@dataclass(frozen=True, slots=True)
class OrderPlan:
    order_id: str
    at_s: float  # seconds after the start of the day
    lines: tuple[tuple[str, int], ...]
    lat: float
    lon: float
    cancel_after_s: float | None
    allow_split: bool = False


@dataclass
class City:
    config: DemoConfig
    shops: list[ShopPlan]
    couriers: list[CourierPlan]
    orders: list[OrderPlan]
    skus: list[str]
    popularity: np.ndarray
    zones: list[str] = field(default_factory=list)


def _spread_nodes(network: RoadNetwork, count: int, rng: np.random.Generator) -> list[int]:
    """Nodes spread over the network: farthest-point sampling from a random start."""
    xy = network.project(network.lat, network.lon)
    chosen = [int(rng.integers(network.node_count))]
    nearest = np.linalg.norm(xy - xy[chosen[0]], axis=1)
    while len(chosen) < count:
        # pick among the 5 farthest candidates at random, so shops do not all sit on the edge
        top = np.argpartition(-nearest, 5)[:5] if network.node_count > 5 else np.arange(network.node_count)
        pick = int(top[rng.integers(len(top))])
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(xy - xy[pick], axis=1))
    return chosen


def order_rate(config: DemoConfig, minute: int) -> float:
    """Orders per minute over the city: a lunch peak with 15-minute ramps on either side, times
    the weather's demand factor.

    The rates are for the default 40 shops and scale with the number of shops, so a smaller
    city gets proportionally fewer orders.
    """
    scale = config.stores / 40.0
    into = (minute - config.peak_start_min + 15) / 15  # 0 → 1 over the ramp up
    out_of = (config.peak_end_min + 15 - minute) / 15  # 1 → 0 over the ramp down
    share = min(1.0, max(0.0, min(into, out_of)))
    rate = (config.base_rate + (config.peak_rate - config.base_rate) * share) * scale
    return rate * config.weather.demand(minute * 60.0)


def _arrival_times(config: DemoConfig, rng: np.random.Generator) -> list[float]:
    """Poisson arrivals minute by minute at `order_rate`."""
    times: list[float] = []
    for minute in range(config.minutes):
        n = int(rng.poisson(order_rate(config, minute)))
        times.extend(sorted(minute * 60.0 + float(x) for x in rng.uniform(0, 60, n)))
    return times


def build_city(network: RoadNetwork, config: DemoConfig) -> City:
    """Generate the day: shops with stocked shelves, couriers, and every order with its time."""
    rng = np.random.default_rng(config.seed)
    skus = [f"sku-{i:05d}" for i in range(config.catalog_skus)]
    ranks = np.arange(1, config.catalog_skus + 1, dtype=np.float64)
    popularity = ranks**-1.1
    popularity /= popularity.sum()
    zones = ["west", "east"]
    shops = _plan_shops(network, config, rng, skus=skus, zones=zones)
    # customers live within a few minutes' ride of some shop
    reach = dijkstra(network.csr, indices=np.array([shop.node for shop in shops]), limit=12 * 60)
    nearby = [np.flatnonzero((row >= 60) & np.isfinite(row)) for row in reach]
    couriers = _plan_couriers(config, rng, shops=shops, nearby=nearby)
    orders = _plan_orders(network, config, rng, _Customers(shops, nearby, skus, popularity))
    return City(config, shops, couriers, _split_eligible(orders, config), skus, popularity, zones)


def _split_eligible(orders: list[OrderPlan], config: DemoConfig) -> list[OrderPlan]:
    """Mark ``split_share`` of the orders ``allow_split`` (a stream of its own: the rest of the day
    stays what it was without shelf noise)."""
    rng = np.random.default_rng(config.seed + 3)
    marks = rng.random(len(orders)) < config.split_share
    return [replace(o, allow_split=True) if mark else o for o, mark in zip(orders, marks, strict=True)]


def _plan_shops(network: RoadNetwork, config: DemoConfig, rng: np.random.Generator, *,
                skus: list[str], zones: list[str]) -> list[ShopPlan]:
    """Shops spread over the city, each with every popular SKU and a random part of the tail.

    Popular SKUs are stocked deep (30-80 units), the tail thin (1-6); a shop's zone is the
    half of the city (west or east of the median longitude) it stands in.
    """
    median_lon = float(np.median(network.lon))
    shops = []
    for i, node in enumerate(_spread_nodes(network, config.stores, rng)):
        tail = rng.choice(
            np.arange(config.popular_skus, config.catalog_skus),
            size=config.skus_per_store - config.popular_skus,
            replace=False,
        )
        stock = {skus[k]: int(rng.integers(30, 81)) for k in range(config.popular_skus)}
        stock.update({skus[int(k)]: int(rng.integers(1, 7)) for k in sorted(tail)})
        shops.append(
            ShopPlan(
                store_id=f"shop-{i + 1:03d}",
                name=f"Shop {i + 1}",
                node=node,
                lat=float(network.lat[node]),
                lon=float(network.lon[node]),
                zone=zones[0] if network.lon[node] < median_lon else zones[1],
                pick_minutes=float(rng.choice([3.0, 4.0, 5.0])),
                stock=stock,
            )
        )
    return shops


def _plan_couriers(config: DemoConfig, rng: np.random.Generator, *, shops: list[ShopPlan],
                   nearby: list[np.ndarray]) -> list[CourierPlan]:
    """Couriers dealt round the shops, starting near one; a fifth start 10 minutes before the peak."""
    couriers = []
    for j in range(config.couriers):
        shop = shops[j % len(shops)]
        around = nearby[j % len(shops)]
        node = int(around[rng.integers(len(around))]) if len(around) else shop.node
        couriers.append(
            CourierPlan(
                courier_id=f"courier-{j + 1:03d}",
                zone=shop.zone,
                node=node,
                shift_start_s=0.0 if j < int(config.couriers * 0.8) else config.peak_start_min * 60.0 - 600,
                capacity=3,
            )
        )
    return couriers


@dataclass(frozen=True, slots=True)
class _Customers:
    """Where customers live (nodes near each shop) and what they buy (SKUs by popularity)."""

    shops: list[ShopPlan]
    nearby: list[np.ndarray]  # per shop: nodes a short ride away
    skus: list[str]
    popularity: np.ndarray  # per SKU: the probability a line is for it


def _plan_orders(network: RoadNetwork, config: DemoConfig, rng: np.random.Generator,
                 customers: _Customers) -> list[OrderPlan]:
    """Every order of the day: near a random shop, one to five popular-skewed lines, a few cancelled."""
    orders = []
    line_counts = np.array([1, 2, 3, 4, 5])
    line_weights = np.array([0.35, 0.3, 0.18, 0.11, 0.06])
    skus = customers.skus
    for k, at_s in enumerate(_arrival_times(config, rng)):
        home = int(rng.integers(len(customers.shops)))
        around = customers.nearby[home]
        node = int(around[rng.integers(len(around))]) if len(around) else customers.shops[home].node
        n_lines = int(rng.choice(line_counts, p=line_weights))
        picked = rng.choice(config.catalog_skus, size=n_lines, replace=False, p=customers.popularity)
        lines = tuple(sorted((skus[int(p)], int(rng.choice([1, 1, 1, 2]))) for p in picked))
        # a few metres off the road, like a real front door
        jitter = rng.normal(0, 15, 2) / 111_000.0
        cancel = float(rng.uniform(60, 300)) if rng.random() < config.cancel_share else None
        orders.append(
            OrderPlan(
                order_id=f"order-{k + 1:05d}",
                at_s=at_s,
                lines=lines,
                lat=float(network.lat[node] + jitter[0]),
                lon=float(
                    network.lon[node] + jitter[1] / max(math.cos(math.radians(network.lat[node])), 0.1)
                ),
                cancel_after_s=cancel,
            )
        )
    return orders


def start_time(config: DemoConfig) -> datetime:
    from datetime import UTC

    return config.start.replace(tzinfo=UTC)


def at(config: DemoConfig, seconds: float) -> datetime:
    return start_time(config) + timedelta(seconds=seconds)
