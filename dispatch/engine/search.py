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

from collections.abc import Sequence

from dispatch.engine.assignment import Assignment, assign_bundles
from dispatch.engine.bundles import Bundle, build_bundles, make_bundle
from dispatch.engine.model import CourierState, EnginePolicy, OpenOrder, TravelTime


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
) -> tuple[list[Assignment], list[Bundle]]:
    """The assignment of the best partition found (see the module docstring)."""
    evals = 0

    def evaluate(bundles: Sequence[Bundle]) -> tuple[float, list[Assignment], list[Bundle]]:
        nonlocal evals
        evals += 1
        assignments, leftover = assign_bundles(
            bundles, couriers, travel=travel, now=now, policy=policy
        )
        return plan_cost(assignments, leftover, now=now, policy=policy), assignments, leftover

    starts: list[tuple[Bundle, ...]] = []
    for size in sorted({1, target_size, largest}):
        part = build_bundles(orders, travel=travel, now=now, policy=policy, target_size=size)
        if part not in starts:
            starts.append(part)
    best_bundles: list[Bundle] = []
    best: tuple[float, list[Assignment], list[Bundle]] | None = None
    for part in starts:
        result = evaluate(part)
        if best is None or result[0] < best[0]:
            best, best_bundles = result, list(part)
    assert best is not None
    if largest <= 1 or policy.bundle_search_evals <= 0:
        return best[1], best[2]

    improved = True
    while improved and evals < policy.bundle_search_evals:
        improved = False
        for cand in _neighbours(best_bundles, travel=travel, policy=policy, largest=largest):
            if evals >= policy.bundle_search_evals:
                break
            result = evaluate(cand)
            if result[0] < best[0] - 1e-9:
                best, best_bundles = result, cand
                improved = True
                break
    return best[1], best[2]


def _neighbours(
    bundles: list[Bundle], *, travel: TravelTime, policy: EnginePolicy, largest: int
) -> list[list[Bundle]]:
    out: list[list[Bundle]] = []
    n = len(bundles)
    for i in range(n):
        bi = bundles[i]
        for j in range(i + 1, n):
            bj = bundles[j]
            if bi.store_id != bj.store_id or bi.size + bj.size > largest:
                continue
            if abs(bi.ready_at - bj.ready_at) > policy.bundle_ready_gap_s:
                continue
            merged = make_bundle([*bi.orders, *bj.orders], travel=travel, policy=policy)
            out.append([*bundles[:i], merged, *bundles[i + 1 : j], *bundles[j + 1 :]])
    for i, b in enumerate(bundles):
        if b.size < 2:
            continue
        for k in range(b.size):
            rest = [o for m, o in enumerate(b.orders) if m != k]
            out.append(
                [
                    *bundles[:i],
                    make_bundle(rest, travel=travel, policy=policy),
                    make_bundle([b.orders[k]], travel=travel, policy=policy),
                    *bundles[i + 1 :],
                ]
            )
    return out
