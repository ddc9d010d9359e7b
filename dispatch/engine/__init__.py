"""The pure dispatch engine: bundles, courier assignment, timing, one round at a time."""

from dispatch.engine.model import (
    CourierState,
    EngineError,
    EnginePolicy,
    OpenOrder,
    Reposition,
    RoundPlan,
    Route,
    TravelTime,
)
from dispatch.engine.plan import plan_round

__all__ = [
    "CourierState",
    "EngineError",
    "EnginePolicy",
    "OpenOrder",
    "Reposition",
    "RoundPlan",
    "Route",
    "TravelTime",
    "plan_round",
]
