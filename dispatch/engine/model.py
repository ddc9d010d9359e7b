"""Engine values: open orders, courier states, the policy, the travel-time port and the plan.

Time unit
---------
The engine is written in seconds (``*_at`` values are seconds on any fixed clock, ``*_s``
values are durations in seconds) but does no unit conversion of its own: every time it
receives and every time the travel function returns must be in that one unit. The service
passes epoch seconds; the MDRP benchmark passes instance minutes multiplied by 60, so every
engine time there is a whole number of minutes.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Protocol


class EngineError(ValueError):
    """The engine was given input it cannot plan with (the message says which)."""

    code = "invalid_engine_input"


class TravelTime(Protocol):
    """Travel time between two locations, in seconds; ``math.inf`` when unreachable."""

    def __call__(self, a: Hashable, b: Hashable, /) -> float: ...


class TravelMatrix(TravelTime, Protocol):
    """A travel-time function that also answers many pairs at once (optional, for speed).

    ``matrix(origins, destinations)`` returns an array of shape (origins, destinations) whose
    every entry equals ``travel(origin, destination)``.
    """

    def matrix(self, origins: Sequence[Hashable], destinations: Sequence[Hashable], /) -> Any: ...


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order not yet picked up nor committed: where it comes from and when it is due."""

    order_id: str
    store_id: str
    store_location: Hashable
    dropoff: Hashable
    placed_at: float
    ready_at: float
    promised_by: float


@dataclass(frozen=True, slots=True)
class CourierState:
    """Where and when a courier finishes its committed work, and until when it may pick up."""

    courier_id: str
    location: Hashable
    free_at: float
    shift_ends_at: float
    capacity: int = 3


@dataclass(frozen=True, slots=True)
class EnginePolicy:
    """Tuning of one dispatch round; every duration in seconds, weights are unitless.

    Scale: each bundle is offered to its store's ``candidate_couriers`` nearest couriers by
    arrival and to every courier that has the store among its ``candidate_stores`` nearest
    (``candidate_couriers`` 0: to every courier). The bundle search evaluates partitions of
    the open orders; one evaluation of a partition of ``B`` bundles spends ``B`` of
    ``search_budget`` (and at most ``bundle_search_evals`` evaluations are made), so a
    round's work is bounded by a count and the plan is the same on any machine. When the
    caller gives a timer, the search also stops once it has used ``search_time_share`` of
    ``round_interval_s`` and returns the best plan found so far.

    Service model: a courier hands over (or takes) an order half the service time after it
    arrives and leaves the other half after that event, so ``pickup_service_s`` and
    ``dropoff_service_s`` are the full time spent at the store and at the door.
    """

    pickup_service_s: float = 120.0
    dropoff_service_s: float = 120.0
    round_interval_s: float = 5.0
    commit_slack_s: float = 0.0
    max_bundle_size: int = 3
    bundle_ready_gap_s: float = 600.0
    bundle_max_delay_s: float = 900.0
    bundle_late_delay_s: float = 600.0
    bundle_demand_factor: float = 1.5
    courier_horizon_s: float = 1200.0
    lateness_weight: float = 2.0
    lost_order_penalty_s: float = 36000.0
    lateness_knee_s: float = 600.0
    click_to_door_weight: float = 1.0
    travel_weight: float = 0.3
    wait_weight: float = 0.3
    age_weight: float = 0.2
    max_waves: int = 20
    reposition_min_s: float = 60.0
    reposition_max_s: float = 900.0
    bundle_search_evals: int = 40
    reposition_cover_s: float = 1200.0
    plan_courier_weight: float = 0.0
    candidate_couriers: int = 32
    candidate_stores: int = 8
    search_budget: int = 500
    search_time_share: float = 0.4

    def __post_init__(self) -> None:
        self._check_numbers()
        if self.round_interval_s <= 0:
            raise EngineError("EnginePolicy.round_interval_s must be positive")
        if self.lateness_knee_s <= 0:
            raise EngineError("EnginePolicy.lateness_knee_s must be positive")
        if not isinstance(self.max_bundle_size, int) or self.max_bundle_size < 1:
            raise EngineError("EnginePolicy.max_bundle_size must be an integer >= 1")
        if not isinstance(self.bundle_search_evals, int):
            raise EngineError("EnginePolicy.bundle_search_evals must be an integer")
        if not isinstance(self.candidate_couriers, int):
            raise EngineError("EnginePolicy.candidate_couriers must be an integer")
        if not isinstance(self.candidate_stores, int):
            raise EngineError("EnginePolicy.candidate_stores must be an integer")
        if not isinstance(self.search_budget, int):
            raise EngineError("EnginePolicy.search_budget must be an integer")
        if self.search_time_share > 1:
            raise EngineError("EnginePolicy.search_time_share must be at most 1")
        if not isinstance(self.max_waves, int) or self.max_waves < 1:
            raise EngineError("EnginePolicy.max_waves must be an integer >= 1")

    def _check_numbers(self) -> None:
        """Every field is a finite, non-negative number (``bool`` is not one)."""
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise EngineError(f"EnginePolicy.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise EngineError(f"EnginePolicy.{f.name} must be finite and >= 0, got {value}")

    @property
    def pickup_half_s(self) -> float:
        """Time from arriving at the store to taking the order (and from that to leaving)."""
        return self.pickup_service_s / 2

    @property
    def dropoff_half_s(self) -> float:
        """Time from arriving at the door to the handover (and from that to leaving)."""
        return self.dropoff_service_s / 2


@dataclass(frozen=True, slots=True)
class Route:
    """One courier's trip: leave, pick a same-store bundle up, drop it off in sequence.

    ``committed`` routes are final: the courier must leave now. The others are the current
    tentative plan and predict when each order will be delivered; they may change next round.
    ``leave_by`` is the latest departure that still picks the bundle up when it is ready.
    """

    courier_id: str
    store_id: str
    order_ids: tuple[str, ...]
    depart_at: float
    arrive_store_at: float
    pickup_at: float
    dropoff_at: tuple[float, ...]
    free_at: float
    leave_by: float
    committed: bool


@dataclass(frozen=True, slots=True)
class Reposition:
    """An idle courier sent toward a location where work is expected."""

    courier_id: str
    location: Hashable


@dataclass(frozen=True, slots=True)
class RoundPlan:
    """The decisions of one round: committed and tentative routes, moves, unservable orders.

    ``unassigned`` lists the open orders no given courier can pick up before its shift ends
    or is worth sending yet (a pickup decades away), and orders whose times are not finite.
    """

    routes: tuple[Route, ...]
    repositions: tuple[Reposition, ...] = ()
    unassigned: tuple[str, ...] = ()

    @property
    def committed(self) -> tuple[Route, ...]:
        """The routes that are final now."""
        return tuple(r for r in self.routes if r.committed)
