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
from dataclasses import dataclass, field
from pathlib import Path

from dispatch.sim.mdrp_check.parse import AssignmentRow, OrderRow, ParsedSolution, parse_solution
from dispatch.sim.mdrp_check.travel import EuclideanTravel
from dispatch.sim.mdrp_format import MdrpInstance

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
    per_order = _check_usage(parsed, bad)
    check = _RuleCheck(instance, parsed, _timelines(instance, parsed, travel, bad), bad)
    for a in parsed.assignments:
        check.assignment(a)
    for oid, r in sorted(parsed.orders.items()):
        check.delivered_order(oid, r, per_order[oid])
    for cid, events in check.stays.items():
        _check_route_order(cid, events, bad)
    _check_instructions(instance, parsed, bad)
    return bad


def _check_usage(parsed: ParsedSolution, bad: list[str]) -> Counter[str]:
    """Each order in at most one assignment ([1]); every courier used has moves.

    Returns how many assignments hold each order.
    """
    per_order = Counter(o for a in parsed.assignments for o in a.orders)
    for oid, n in sorted(per_order.items()):
        if n > 1:
            bad.append(f"[1] {oid} is in {n} assignments")
    used = {a.courier for a in parsed.assignments} | {r.courier for r in parsed.orders.values()}
    for cid in sorted(used):
        if cid not in parsed.moves:
            bad.append(f"[files] {cid} is used but has no move (evaluator crashes)")
    return per_order


_Stay = tuple[float, int, str, int]  # (time, timeline index, "pickup" or order id, line)


@dataclass(slots=True)
class _RuleCheck:
    """The per-assignment and per-order rules, collecting each courier's pickup/drop stays."""

    instance: MdrpInstance
    parsed: ParsedSolution
    timelines: dict[str, _Timeline]
    bad: list[str]
    stays: defaultdict[str, list[_Stay]] = field(default_factory=lambda: defaultdict(list))

    def assignment(self, a: AssignmentRow) -> None:
        """Rules [2]-[5] and [7] of one assignment, and its agreement with the order rows."""
        tag = f"line {a.line} ({a.courier} {' '.join(a.orders)})"
        self._assignment_times(a, tag)
        rows = self.parsed.orders
        missing = [o for o in a.orders if o not in rows]
        if missing:
            self.bad.append(f"[files] assignment {tag}: no order row for {missing} (evaluator crashes)")
            return
        drops = [rows[o].dropoff_time for o in a.orders]
        for k in range(1, len(drops)):
            if drops[k] < drops[k - 1] + self.instance.dropoff_service_min:
                self.bad.append(f"[5] assignment {tag}: drop-off of {a.orders[k]} out of sequence")
        for o in a.orders:
            if rows[o].courier != a.courier or rows[o].pickup_time != a.pickup_time:
                self.bad.append(f"[strict-files] {o}: order row disagrees with its assignment")
        line = self.timelines.get(a.courier)
        if line is not None:
            self._pickup_stay(a, tag, line, drops)

    def _assignment_times(self, a: AssignmentRow, tag: str) -> None:
        """Placement, shift, readiness and same-restaurant rules, from the instance alone."""
        orders = self.instance.orders
        c = self.instance.couriers[a.courier]
        first = orders[a.orders[0]]
        if any(a.assignment_time < orders[o].placement_time for o in a.orders):
            self.bad.append(f"[2] assignment {tag} made before an order was placed")
        if a.pickup_time > c.off_time:
            self.bad.append(f"[3] assignment {tag} picked up after the courier's off-time")
        if any(a.pickup_time < orders[o].ready_time for o in a.orders):
            self.bad.append(f"[4] assignment {tag} picked up before an order is ready")
        if a.assignment_time > a.pickup_time:
            self.bad.append(f"[strict-assign] assignment {tag} committed after its pickup")
        if any(orders[o].restaurant != first.restaurant for o in a.orders):
            self.bad.append(f"[strict-store] assignment {tag} mixes restaurants")

    def _pickup_stay(self, a: AssignmentRow, tag: str, line: _Timeline, drops: list[float]) -> None:
        """The courier at the restaurant for the pickup ([7], its service time); stays noted."""
        restaurant = self.instance.orders[a.orders[0]].restaurant
        half_pick = self.instance.pickup_service_min / 2
        i = line.index_at(a.pickup_time)
        if i < 0 or line.places[i] != restaurant:
            self.bad.append(f"[7] assignment {tag}: courier not at {restaurant} at pickup")
            return
        arrive, leave = line.stay_bounds(i)
        if a.pickup_time < arrive + half_pick or leave < a.pickup_time + half_pick:
            self.bad.append(f"[strict-service] assignment {tag}: pickup service time not respected")
        self.stays[a.courier].append((a.pickup_time, i, "pickup", a.line))
        for o, drop in zip(a.orders, drops, strict=True):
            j = line.index_at(drop)
            if j >= 0 and line.places[j] == o:
                self.stays[a.courier].append((drop, j, o, a.line))

    def delivered_order(self, oid: str, r: OrderRow, n_assignments: int) -> None:
        """A delivered order: in one assignment, instance times, courier at the door ([8])."""
        inst = self.instance.orders[oid]
        half_drop = self.instance.dropoff_service_min / 2
        if n_assignments != 1:
            self.bad.append(f"[strict-files] delivered order {oid} is in {n_assignments} assignments")
        if r.placement_time != inst.placement_time or r.ready_time != inst.ready_time:
            self.bad.append(f"[strict-files] {oid}: placement or ready time differs from the instance")
        line = self.timelines.get(r.courier)
        if line is None:
            return
        j = line.index_at(r.dropoff_time)
        if j < 0 or line.places[j] != oid:
            self.bad.append(f"[8] {oid}: courier {r.courier} not at the door at drop-off")
            return
        arrive, leave = line.stay_bounds(j)
        if r.dropoff_time < arrive + half_drop or leave < r.dropoff_time + half_drop:
            self.bad.append(f"[strict-service] {oid}: drop-off service time not respected")


def _check_route_order(cid: str, events: list[_Stay], bad: list[str]) -> None:
    """One route at a time: each trip's drop-offs follow its pickup, before the next pickup."""
    by_assignment: dict[int, list[_Stay]] = defaultdict(list)
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
                    f"[strict-relocate] {cid} relocates at {m.departure} to {m.destination}, not a restaurant"
                )
            instructions.append((m.departure, f"relocation to {m.destination}", None))
        for t, what, own in instructions:
            for start, end, a in trips:
                if a is not own and start <= t < end:
                    bad.append(
                        f"[strict-busy] {cid}: {what} at {t} while on the trip of line {a.line} "
                        f"(until {end:g})"
                    )
