"""MDRP feasibility rules: the official evaluator's eight rules and the model's stricter ones.

Implements every rule of /work/shared/data/mdrp/FORMAT.md section 4 on a parsed solution:
the official script's rules ``[1]``..``[8]``, and the model rules it does not check
(same-store bundles, service times, one route at a time, files consistent, assignment
before pickup, no instruction while on a trip, relocations only to restaurants). Travel
times are the checker's own (:mod:`dispatch.sim.mdrp_check.travel`).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from dispatch.sim.mdrp import MdrpInstance
from dispatch.sim.mdrp_check.parse import AssignmentRow, ParsedSolution, parse_solution
from dispatch.sim.mdrp_check.travel import EuclideanTravel

_TRANSIT = ""  # place of a courier between departure and arrival


@dataclass(frozen=True, slots=True)
class _Timeline:
    times: list[float]
    places: list[str]

    def index_at(self, x: float) -> int:
        """Index of the last event strictly before ``x`` (-1 if none)."""
        return bisect.bisect_left(self.times, x) - 1

    def place_at(self, x: float) -> str | None:
        i = self.index_at(x)
        return self.places[i] if i >= 0 else None

    def stay_bounds(self, i: int) -> tuple[float, float]:
        """Arrival time of stay ``i`` and the next departure (inf if none)."""
        nxt = self.times[i + 1] if i + 1 < len(self.times) else math.inf
        return self.times[i], nxt


def _timelines(
    instance: MdrpInstance, parsed: ParsedSolution, travel: EuclideanTravel, bad: list[str]
) -> dict[str, _Timeline]:
    out: dict[str, _Timeline] = {}
    for cid, moves in parsed.moves.items():
        c = instance.couriers[cid]
        times: list[float] = [c.on_time]
        places = [cid]
        for k, m in enumerate(moves):
            if m.origin != places[-1]:
                bad.append(f"[6a] {cid} move {k + 1} leaves {m.origin}, not {places[-1]}")
            times.append(m.departure)
            places.append(_TRANSIT)
            times.append(m.departure + travel.minutes(m.origin, m.destination))
            places.append(m.destination)
        if any(b < a for a, b in itertools.pairwise(times)):
            bad.append(f"[6b] {cid} departs before on-time or before arriving")
        out[cid] = _Timeline(times, places)
    return out


def check_solution(instance: MdrpInstance, solution_dir: Path) -> list[str]:
    """Every violation of the official and the strict model rules of FORMAT.md.

    Parameters
    ----------
    instance
        The instance.
    solution_dir
        Directory holding the three solution files.

    Returns
    -------
    list of str
        Violations, each tagged with its rule (``[1]``..``[8]`` official, ``[strict-…]``
        model, ``[format]``/``[ids]``/``[files]`` layout); empty when feasible. Travel is
        the checker's own (:class:`~dispatch.sim.mdrp_check.travel.EuclideanTravel`).
    """
    parsed, bad = parse_solution(instance, solution_dir)
    travel = EuclideanTravel(instance)
    half_pick = instance.pickup_service_min / 2
    half_drop = instance.dropoff_service_min / 2
    rows = parsed.orders

    per_order = Counter(o for a in parsed.assignments for o in a.orders)
    for oid, n in sorted(per_order.items()):
        if n > 1:
            bad.append(f"[1] {oid} is in {n} assignments")
    for cid in sorted({a.courier for a in parsed.assignments} | {r.courier for r in rows.values()}):
        if cid not in parsed.moves:
            bad.append(f"[files] {cid} is used but has no move (evaluator crashes)")
    timelines = _timelines(instance, parsed, travel, bad)
    stays: dict[str, list[tuple[float, int, str, int]]] = defaultdict(list)

    for a in parsed.assignments:
        tag = f"line {a.line} ({a.courier} {' '.join(a.orders)})"
        c = instance.couriers[a.courier]
        first = instance.orders[a.orders[0]]
        if any(a.assignment_time < instance.orders[o].placement_time for o in a.orders):
            bad.append(f"[2] assignment {tag} made before an order was placed")
        if a.pickup_time > c.off_time:
            bad.append(f"[3] assignment {tag} picked up after the courier's off-time")
        if any(a.pickup_time < instance.orders[o].ready_time for o in a.orders):
            bad.append(f"[4] assignment {tag} picked up before an order is ready")
        if a.assignment_time > a.pickup_time:
            bad.append(f"[strict-assign] assignment {tag} committed after its pickup")
        if any(instance.orders[o].restaurant != first.restaurant for o in a.orders):
            bad.append(f"[strict-store] assignment {tag} mixes restaurants")
        missing = [o for o in a.orders if o not in rows]
        if missing:
            bad.append(f"[files] assignment {tag}: no order row for {missing} (evaluator crashes)")
            continue
        drops = [rows[o].dropoff_time for o in a.orders]
        for k in range(1, len(drops)):
            if drops[k] < drops[k - 1] + instance.dropoff_service_min:
                bad.append(f"[5] assignment {tag}: drop-off of {a.orders[k]} out of sequence")
        for o in a.orders:
            if rows[o].courier != a.courier or rows[o].pickup_time != a.pickup_time:
                bad.append(f"[strict-files] {o}: order row disagrees with its assignment")
        line = timelines.get(a.courier)
        if line is None:
            continue
        i = line.index_at(a.pickup_time)
        if i < 0 or line.places[i] != first.restaurant:
            bad.append(f"[7] assignment {tag}: courier not at {first.restaurant} at pickup")
            continue
        arrive, leave = line.stay_bounds(i)
        if a.pickup_time < arrive + half_pick or leave < a.pickup_time + half_pick:
            bad.append(f"[strict-service] assignment {tag}: pickup service time not respected")
        stays[a.courier].append((a.pickup_time, i, "pickup", a.line))
        for o, drop in zip(a.orders, drops, strict=True):
            j = line.index_at(drop)
            if j >= 0 and line.places[j] == o:
                stays[a.courier].append((drop, j, o, a.line))

    for oid, r in sorted(rows.items()):
        inst = instance.orders[oid]
        if per_order[oid] != 1:
            bad.append(f"[strict-files] delivered order {oid} is in {per_order[oid]} assignments")
        if r.placement_time != inst.placement_time or r.ready_time != inst.ready_time:
            bad.append(f"[strict-files] {oid}: placement or ready time differs from the instance")
        line = timelines.get(r.courier)
        if line is None:
            continue
        j = line.index_at(r.dropoff_time)
        if j < 0 or line.places[j] != oid:
            bad.append(f"[8] {oid}: courier {r.courier} not at the door at drop-off")
            continue
        arrive, leave = line.stay_bounds(j)
        if r.dropoff_time < arrive + half_drop or leave < r.dropoff_time + half_drop:
            bad.append(f"[strict-service] {oid}: drop-off service time not respected")

    for cid, events in stays.items():
        by_assignment: dict[int, list[tuple[float, int, str, int]]] = defaultdict(list)
        for e in events:
            by_assignment[e[3]].append(e)
        trips = sorted(by_assignment.values(), key=lambda evs: min(e[0] for e in evs))
        prev_last: int | None = None
        for evs in trips:
            pick = [e for e in evs if e[2] == "pickup"]
            drop_events = sorted((e for e in evs if e[2] != "pickup"), key=lambda e: e[0])
            if not pick:
                continue
            p = pick[0][1]
            idx = [p] + [e[1] for e in drop_events]
            if any(b <= a for a, b in itertools.pairwise(idx)):
                bad.append(f"[strict-route] {cid}: a drop-off does not follow its pickup")
            if prev_last is not None and p <= prev_last:
                bad.append(f"[strict-route] {cid}: picks up again before finishing a route")
            prev_last = max(idx)
    _check_instructions(instance, parsed, bad)
    return bad


def _check_instructions(instance: MdrpInstance, parsed: ParsedSolution, bad: list[str]) -> None:
    """No instruction while a courier is on a trip; relocations only to restaurants.

    A trip runs from its assignment time to the courier leaving its last door (the last
    drop-off plus half the drop-off service). Instructions are assignments and relocations:
    moves that are not the way to an assignment's restaurant (leaving between its
    assignment and its pickup) nor to one of its doors.
    """
    half_drop = instance.dropoff_service_min / 2
    by_courier: dict[str, list[AssignmentRow]] = defaultdict(list)
    for a in parsed.assignments:
        by_courier[a.courier].append(a)
    for cid in sorted(set(by_courier) | set(parsed.moves)):
        trips = []
        for a in by_courier.get(cid, []):
            drops = [parsed.orders[o].dropoff_time for o in a.orders if o in parsed.orders]
            end = (max(drops) if drops else a.pickup_time) + half_drop
            trips.append((a.assignment_time, end, a))
        doors = {o for a in by_courier.get(cid, []) for o in a.orders}
        instructions: list[tuple[float, str, AssignmentRow | None]] = [
            (a.assignment_time, f"assignment on line {a.line}", a) for _, _, a in trips
        ]
        for m in parsed.moves.get(cid, ()):
            if m.destination in doors:
                continue
            to_store = any(
                m.destination == instance.orders[a.orders[0]].restaurant
                and a.assignment_time <= m.departure <= a.pickup_time
                for _, _, a in trips
            )
            if to_store:
                continue
            if m.destination not in instance.restaurants:
                bad.append(
                    f"[strict-relocate] {cid} relocates at {m.departure} to {m.destination}, "
                    "not a restaurant"
                )
            instructions.append((m.departure, f"relocation to {m.destination}", None))
        for t, what, own in instructions:
            for start, end, a in trips:
                if a is not own and start <= t < end:
                    bad.append(
                        f"[strict-busy] {cid}: {what} at {t} while on the trip of line {a.line} "
                        f"(until {end:g})"
                    )


