"""Bundle search: choose the round's bundles by the cost of the whole tentative plan.

The bundler proposes a partition of the open orders; each candidate partition is matched to
the couriers (all waves, :func:`assign_bundles`) and scored by the predicted click-to-door and
lateness of every order in the resulting plan, plus the courier time it uses. Starting from
the best of a few partitions (no bundling, the demand-based target size, the largest size),
a first-improvement local search merges bundles of one store and splits bundles apart.
When couriers are short, a merge that frees a trip moves later waves earlier, which the plan
cost sees and the per-pair cost matrix does not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from dispatch.engine.assignment import Assignment, assign_bundles, courier_view
from dispatch.engine.bundles import Bundle, build_bundles, make_bundle
from dispatch.engine.legs import StoreLegs
from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder, TravelTime
from dispatch.engine.timing import RouteTiming


def plan_cost(
    assignments: Sequence[Assignment],
    leftover: Sequence[Bundle],
    *,
    now: float,
    policy: EnginePolicy,
) -> float:
    """Predicted cost of a tentative plan (lower is better)."""
    total = 0.0
    knee = policy.lateness_knee_s
    for a in assignments:
        t = a.timing
        for o, drop in zip(a.bundle.orders, t.dropoff_at, strict=True):
            late = max(0.0, drop - o.promised_by)
            total += policy.click_to_door_weight * (drop - o.placed_at)
            total += policy.lateness_weight * late * (1.0 + late / knee)
        total += policy.plan_courier_weight * (t.free_at - max(now, a.courier.free_at))
    total += sum(policy.lost_order_penalty_s * b.size for b in leftover)
    return total


def search_bundles(
    orders: Sequence[OpenOrder],
    couriers: Sequence[CourierState],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    target_size: int,
    largest: int,
    timer: Callable[[], float] | None = None,
) -> tuple[list[Assignment], list[Bundle]]:
    """The assignment of the best partition found (see the module docstring).

    The search is anytime: it stops when its count budget is spent (``search_budget``
    bundle evaluations, at most ``bundle_search_evals`` evaluations) or, when ``timer`` is
    given, once ``search_time_share`` of the round interval has passed since it started,
    and returns the best plan so far (the first start is always evaluated).

    Parameters
    ----------
    orders, couriers
        The round's open orders and couriers.
    travel, now, policy
        Travel-time function, time of the round, weights and budget.
    target_size, largest
        Demand-based and largest bundle size.
    timer
        Optional monotonic clock in seconds (the only clock the engine reads, and only to
        stop early).

    Returns
    -------
    (assignments, leftover)
        As :func:`~dispatch.engine.assignment.assign_bundles`.
    """
    legs = StoreLegs(list(dict.fromkeys(o.store_location for o in orders)), travel)
    plans = _PlanEvaluator(couriers, legs=legs, travel=travel, now=now, policy=policy, timer=timer)
    starts = _start_partitions(
        orders, travel=travel, now=now, policy=policy, sizes=sorted({1, target_size, largest})
    )
    best, best_bundles = _best_start(starts, plans)
    if largest <= 1 or policy.bundle_search_evals <= 0:
        return best[1], best[2]
    best = _local_search(best, best_bundles, plans, travel=travel, policy=policy, largest=largest)
    return best[1], best[2]


_Scored = tuple[float, list[Assignment], list[Bundle]]
"""A partition's plan cost, its assignments and its leftover bundles."""


class _PlanEvaluator:
    """Prices partitions as whole tentative plans and keeps the round's search budget.

    The round's store legs, first-wave courier view and trip timings are shared by every
    evaluation, so that a partition costs only its matching.
    """

    def __init__(
        self,
        couriers: Sequence[CourierState],
        *,
        legs: StoreLegs,
        travel: TravelTime,
        now: float,
        policy: EnginePolicy,
        timer: Callable[[], float] | None,
    ) -> None:
        self.couriers = couriers
        self.legs = legs
        self.travel = travel
        self.now = now
        self.policy = policy
        self.first_wave = courier_view(couriers, legs=legs, now=now, policy=policy)
        self.timings: dict[tuple[int, object, float], tuple[Bundle, RouteTiming]] = {}
        self.evals = 0
        self.spent = 0
        self.timer = timer
        self.started = timer() if timer is not None else 0.0
        self.time_limit = policy.search_time_share * policy.round_interval_s

    def affordable(self, n_bundles: int) -> bool:
        """Whether the count budget (and the time share, with a timer) allows one more."""
        policy = self.policy
        if self.evals >= policy.bundle_search_evals or self.spent + n_bundles > policy.search_budget:
            return False
        return self.timer is None or self.timer() - self.started < self.time_limit

    def evaluate(self, bundles: Sequence[Bundle]) -> _Scored:
        """Match the partition to the couriers (all waves) and cost the resulting plan."""
        self.evals += 1
        self.spent += len(bundles)
        assignments, leftover = assign_bundles(
            bundles,
            self.couriers,
            travel=self.travel,
            now=self.now,
            policy=self.policy,
            legs=self.legs,
            first_wave=self.first_wave,
            timings=self.timings,
        )
        cost = plan_cost(assignments, leftover, now=self.now, policy=self.policy)
        return cost, assignments, leftover


def _start_partitions(
    orders: Sequence[OpenOrder],
    *,
    travel: TravelTime,
    now: float,
    policy: EnginePolicy,
    sizes: Sequence[int],
) -> Iterator[tuple[Bundle, ...]]:
    """The distinct partitions the bundler makes at each of the given target sizes, built as they
    are asked for: when the budget ends after the first (thousands of open orders), the others,
    the costly ones, are never built."""
    made: list[tuple[Bundle, ...]] = []
    for size in sizes:
        part = build_bundles(orders, travel=travel, now=now, policy=policy, target_size=size)
        if part not in made:
            made.append(part)
            yield part


def _best_start(starts: Iterator[tuple[Bundle, ...]], plans: _PlanEvaluator) -> tuple[_Scored, list[Bundle]]:
    """The cheapest start the budget allows (the first is always evaluated)."""
    best_bundles: list[Bundle] = []
    best: _Scored | None = None
    for part in starts:
        if best is not None and not plans.affordable(len(part)):
            break
        result = plans.evaluate(part)
        if best is None or result[0] < best[0]:
            best, best_bundles = result, list(part)
        if not plans.affordable(1):  # no further start is (each has a bundle): none is built
            break
    assert best is not None
    return best, best_bundles


def _local_search(
    best: _Scored,
    best_bundles: list[Bundle],
    plans: _PlanEvaluator,
    *,
    travel: TravelTime,
    policy: EnginePolicy,
    largest: int,
) -> _Scored:
    """First-improvement descent over merge and split moves, while the budget lasts."""
    improved = True
    while improved and plans.affordable(len(best_bundles)):
        improved = False
        for cand in _neighbours(best_bundles, travel=travel, policy=policy, largest=largest):
            if not plans.affordable(len(cand)):
                break
            result = plans.evaluate(cand)
            if result[0] < best[0] - 1e-9:
                best, best_bundles = result, cand
                improved = True
                break
    return best


def _neighbours(
    bundles: list[Bundle], *, travel: TravelTime, policy: EnginePolicy, largest: int
) -> Iterator[list[Bundle]]:
    """Partitions one move away: merge two bundles of one store, or split one order off."""
    by_store: dict[str, list[int]] = {}
    for i, b in enumerate(bundles):
        by_store.setdefault(b.store_id, []).append(i)
    for i, bi in enumerate(bundles):
        for j in by_store[bi.store_id]:
            if j <= i:
                continue
            bj = bundles[j]
            if bi.size + bj.size > largest:
                continue
            if abs(bi.ready_at - bj.ready_at) > policy.bundle_ready_gap_s:
                continue
            merged = make_bundle([*bi.orders, *bj.orders], travel=travel, policy=policy)
            yield [*bundles[:i], merged, *bundles[i + 1 : j], *bundles[j + 1 :]]
    for i, b in enumerate(bundles):
        if b.size < 2:
            continue
        for k in range(b.size):
            rest = [o for m, o in enumerate(b.orders) if m != k]
            yield [
                *bundles[:i],
                make_bundle(rest, travel=travel, policy=policy),
                make_bundle([b.orders[k]], travel=travel, policy=policy),
                *bundles[i + 1 :],
            ]
