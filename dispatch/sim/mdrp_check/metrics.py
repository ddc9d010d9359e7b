"""MDRP solution metrics: click-to-door, ready-to-pickup, orders over the maximum, the bound.

Figures in minutes from the written files, click-to-door against the instance's placement
times (FORMAT.md section 5); percentiles interpolate linearly as pandas ``describe`` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatch.sim.mdrp_check.parse import parse_solution
from dispatch.sim.mdrp_check.travel import EuclideanTravel
from dispatch.sim.mdrp_format import MdrpInstance


@dataclass(frozen=True, slots=True)
class MdrpMetrics:
    """Figures of one solution (minutes); click-to-door uses the instance's placement times."""

    instance: str
    orders: int
    delivered: int
    ctd_mean_min: float
    ctd_p90_min: float
    share_within_40: float
    ready_to_pickup_mean_min: float
    over_90_min: int
    bound_ctd_mean_min: float


def lower_bound_ctd(instance: MdrpInstance) -> float:
    """Mean click-to-door if every order were picked up when ready and taken straight home."""
    travel = EuclideanTravel(instance)
    return float(
        np.mean(
            [
                o.ready_time
                + (instance.pickup_service_min + instance.dropoff_service_min) / 2
                + travel.minutes(o.restaurant, o.order_id)
                - o.placement_time
                for o in instance.orders.values()
            ]
        )
    )


def solution_metrics(instance: MdrpInstance, solution_dir: Path) -> MdrpMetrics:
    """Compute the benchmark figures from the written files.

    Parameters
    ----------
    instance
        The instance.
    solution_dir
        Directory holding the three solution files.

    Returns
    -------
    MdrpMetrics
        Percentiles interpolate linearly (as pandas ``describe`` does).
    """
    parsed, _ = parse_solution(instance, solution_dir)
    rows = list(parsed.orders.values())
    ctd = np.array([r.dropoff_time - instance.orders[r.order].placement_time for r in rows])
    r2p = np.array([r.pickup_time - instance.orders[r.order].ready_time for r in rows])
    target = instance.target_ctd_min
    return MdrpMetrics(
        instance=instance.name,
        orders=len(instance.orders),
        delivered=len(rows),
        ctd_mean_min=float(ctd.mean()) if len(ctd) else math.nan,
        ctd_p90_min=float(np.percentile(ctd, 90)) if len(ctd) else math.nan,
        share_within_40=float((ctd <= target).mean()) if len(ctd) else math.nan,
        ready_to_pickup_mean_min=float(r2p.mean()) if len(r2p) else math.nan,
        over_90_min=int((ctd > instance.max_ctd_min).sum()),
        bound_ctd_mean_min=lower_bound_ctd(instance),
    )
