"""The checker's travel time: its own Euclidean rule, independent of the simulator's.

FORMAT.md section 0: ``ceil(sqrt(dx² + dy²) / meters_per_minute)`` whole minutes between two
place ids (an order names its drop-off, a restaurant itself, a courier its on-location).
The checker computes it from the instance's coordinates itself, so that a fault in the
simulator's travel function cannot hide a move that is too fast.
"""

from __future__ import annotations

import math

from dispatch.sim.mdrp_format import MdrpInstance


class EuclideanTravel:
    """Whole minutes between two place ids of an instance, by the evaluator's rule.

    Parameters
    ----------
    instance
        Gives the coordinates and the metres per minute.
    """

    def __init__(self, instance: MdrpInstance) -> None:
        self.meters_per_minute = instance.meters_per_minute
        self.coords: dict[str, tuple[float, float]] = {
            **{k: (o.x, o.y) for k, o in instance.orders.items()},
            **instance.restaurants,
            **{k: (c.x, c.y) for k, c in instance.couriers.items()},
        }

    def minutes(self, a: str, b: str) -> int:
        """Travel minutes from place ``a`` to place ``b``."""
        (ax, ay), (bx, by) = self.coords[a], self.coords[b]
        return math.ceil(math.sqrt((bx - ax) ** 2 + (by - ay) ** 2) / self.meters_per_minute)
