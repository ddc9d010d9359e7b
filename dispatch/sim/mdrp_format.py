"""The MDRP file format (MDRPLIB, Reyes et al.): reading an instance and the solution files' names.

The simulator (``mdrp.py``) and the independent checker (``mdrp_check``) both read instances
through this module; the checker never imports the simulator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

ASSIGNMENTS_FILE = "solution_info_assignments.txt"
ORDERS_FILE = "solution_info_orders.txt"
COURIERS_FILE = "solution_info_couriers.txt"


class MdrpFormatError(ValueError):
    """An instance file does not have the MDRPLIB layout."""


@dataclass(frozen=True, slots=True)
class MdrpOrder:
    """An instance order: drop-off point, placement, restaurant, ready time (minutes)."""

    order_id: str
    x: float
    y: float
    placement_time: int
    restaurant: str
    ready_time: int


@dataclass(frozen=True, slots=True)
class MdrpCourier:
    """An instance courier: on-location and shift (minutes)."""

    courier_id: str
    x: float
    y: float
    on_time: int
    off_time: int


@dataclass(frozen=True, slots=True)
class MdrpInstance:
    """One MDRPLIB instance: orders, restaurants, couriers and parameters."""

    name: str
    orders: dict[str, MdrpOrder]
    restaurants: dict[str, tuple[float, float]]
    couriers: dict[str, MdrpCourier]
    meters_per_minute: float
    pickup_service_min: int
    dropoff_service_min: int
    target_ctd_min: int
    max_ctd_min: int
    _coords: dict[str, tuple[float, float]] = field(default_factory=dict, repr=False)

    def location(self, place_id: str) -> tuple[float, float]:
        """Coordinates of an order (its drop-off), a restaurant or a courier (its on-location)."""
        if not self._coords:
            self._coords.update({k: (o.x, o.y) for k, o in self.orders.items()})
            self._coords.update(self.restaurants)
            self._coords.update({k: (c.x, c.y) for k, c in self.couriers.items()})
        return self._coords[place_id]

    def travel_minutes(self, a: str, b: str) -> int:
        """``ceil(euclidean metres / metres_per_minute)`` between two place ids."""
        (ax, ay), (bx, by) = self.location(a), self.location(b)
        return math.ceil(math.hypot(bx - ax, by - ay) / self.meters_per_minute)


def _read_table(path: Path) -> list[dict[str, str]]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise MdrpFormatError(f"{path} is empty")
    header = lines[0].split("\t")
    rows = []
    for ln in lines[1:]:
        cells = ln.split("\t")
        if len(cells) != len(header):
            raise MdrpFormatError(f"{path}: row {ln!r} does not match header {header}")
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def load_instance(path: Path) -> MdrpInstance:
    """Read an instance directory (tab-separated files with headers, as MDRPLIB ships them).

    Parameters
    ----------
    path
        Directory holding orders.txt, restaurants.txt, couriers.txt, instance_parameters.txt.

    Returns
    -------
    MdrpInstance
    """
    try:
        orders = {
            r["order"]: MdrpOrder(
                r["order"],
                float(r["x"]),
                float(r["y"]),
                int(r["placement_time"]),
                r["restaurant"],
                int(r["ready_time"]),
            )
            for r in _read_table(path / "orders.txt")
        }
        restaurants = {
            r["restaurant"]: (float(r["x"]), float(r["y"])) for r in _read_table(path / "restaurants.txt")
        }
        couriers = {
            r["courier"]: MdrpCourier(
                r["courier"], float(r["x"]), float(r["y"]), int(r["on_time"]), int(r["off_time"])
            )
            for r in _read_table(path / "couriers.txt")
        }
        (params,) = _read_table(path / "instance_parameters.txt")
        return MdrpInstance(
            name=path.name,
            orders=orders,
            restaurants=restaurants,
            couriers=couriers,
            meters_per_minute=float(params["meters_per_minute"]),
            pickup_service_min=int(params["pickup service minutes"]),
            dropoff_service_min=int(params["dropoff service minutes"]),
            target_ctd_min=int(params["target click-to-door"]),
            max_ctd_min=int(params["maximum click-to-door"]),
        )
    except (KeyError, ValueError, OSError) as exc:
        raise MdrpFormatError(f"{path}: not an MDRP instance ({exc})") from exc
