"""MDRP solution checker: the official evaluator's rules, the model's stricter rules, metrics.

Implements every rule of /work/shared/data/mdrp/FORMAT.md (sections 1–4): file layout the
official script needs in order not to crash or misread, its eight feasibility rules, and the
model rules it does not check (same-store bundles, service times, one route at a time, files
consistent, assignment before pickup). :func:`check_solution` returns human-readable
violations, each prefixed with its rule tag; an empty list means feasible under both.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dispatch.sim.mdrp import ASSIGNMENTS_FILE, COURIERS_FILE, ORDERS_FILE, MdrpInstance

ORDER_COLUMNS = ("order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier")
_TRANSIT = ""  # place of a courier between departure and arrival


@dataclass(frozen=True, slots=True)
class _Assignment:
    line: int
    assignment_time: int
    pickup_time: int
    courier: str
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _OrderRow:
    order: str
    placement_time: float
    ready_time: float
    pickup_time: float
    dropoff_time: float
    courier: str


@dataclass(frozen=True, slots=True)
class _Move:
    departure: int
    origin: str
    destination: str


@dataclass(frozen=True, slots=True)
class ParsedSolution:
    """The three solution files as read (rows that could not be read are left out)."""

    assignments: tuple[_Assignment, ...]
    orders: dict[str, _OrderRow]
    moves: dict[str, tuple[_Move, ...]]


def _num(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_solution(instance: MdrpInstance, solution_dir: Path) -> tuple[ParsedSolution, list[str]]:
    """Read the three files; report layout faults that crash or mislead the official script.

    Parameters
    ----------
    instance
        The instance the solution is for.
    solution_dir
        Directory with the three solution files.

    Returns
    -------
    (parsed, violations)
    """
    bad: list[str] = []
    known = set(instance.orders) | set(instance.restaurants) | set(instance.couriers)
    texts: dict[str, str] = {}
    for name in (ASSIGNMENTS_FILE, ORDERS_FILE, COURIERS_FILE):
        try:
            texts[name] = (solution_dir / name).read_text()
        except OSError:
            bad.append(f"[files] {name} missing")
            texts[name] = ""

    assignments: list[_Assignment] = []
    a_lines = texts[ASSIGNMENTS_FILE].splitlines()
    if not a_lines:
        bad.append(f"[files] {ASSIGNMENTS_FILE} has no header line")
    for n, raw in enumerate(a_lines[1:], start=2):
        parts = raw.split()
        if not parts:
            bad.append(f"[format] {ASSIGNMENTS_FILE} line {n} is blank (evaluator crashes)")
            continue
        if len(parts) < 4:
            bad.append(f"[format] {ASSIGNMENTS_FILE} line {n} has no order")
            continue
        try:
            a_time, p_time = int(_num(parts[0])), int(_num(parts[1]))
        except ValueError:
            bad.append(f"[format] {ASSIGNMENTS_FILE} line {n}: times are not numbers")
            continue
        if parts[2] not in instance.couriers:
            bad.append(f"[ids] {ASSIGNMENTS_FILE} line {n}: unknown courier {parts[2]}")
            continue
        unknown = [o for o in parts[3:] if o not in instance.orders]
        if unknown:
            bad.append(f"[ids] {ASSIGNMENTS_FILE} line {n}: unknown orders {unknown}")
            continue
        assignments.append(_Assignment(n, a_time, p_time, parts[2], tuple(parts[3:])))

    orders: dict[str, _OrderRow] = {}
    o_lines = texts[ORDERS_FILE].splitlines()
    header = o_lines[0].split(" ") if o_lines else []
    missing = [c for c in ORDER_COLUMNS if c not in header]
    if missing:
        bad.append(f"[format] {ORDERS_FILE} header lacks columns {missing}")
    for n, raw in enumerate(o_lines, start=1):
        if "\t" in raw or "  " in raw or raw != raw.strip() or not raw:
            bad.append(f"[format] {ORDERS_FILE} line {n}: fields must be single-space separated")
    for n, raw in enumerate(o_lines[1:] if not missing else [], start=2):
        cells = raw.strip().split()
        if len(cells) != len(header):
            bad.append(f"[format] {ORDERS_FILE} line {n}: {len(cells)} fields, not {len(header)}")
            continue
        row = dict(zip(header, cells, strict=True))
        if row["order"] not in instance.orders:
            bad.append(f"[ids] {ORDERS_FILE} line {n}: unknown order {row['order']}")
            continue
        if row["order"] in orders:
            bad.append(f"[format] {ORDERS_FILE}: order {row['order']} listed twice")
            continue
        try:
            placement, ready, pickup, dropoff = (_num(row[c]) for c in ORDER_COLUMNS[1:5])
        except ValueError:
            bad.append(f"[format] {ORDERS_FILE} line {n}: {row['order']} listed but not delivered")
            continue
        if row["courier"] not in instance.couriers:
            bad.append(f"[ids] {ORDERS_FILE} line {n}: unknown courier {row['courier']}")
            continue
        orders[row["order"]] = _OrderRow(row["order"], placement, ready, pickup, dropoff, row["courier"])

    moves: dict[str, list[_Move]] = {}
    c_lines = texts[COURIERS_FILE].splitlines()
    closed: set[str] = set()
    current: str | None = None
    for n, raw in enumerate(c_lines, start=1):
        parts = raw.split()
        if not parts:
            continue
        if len(parts) != 4:
            bad.append(f"[format] {COURIERS_FILE} line {n} does not have 4 fields")
            continue
        try:
            dep = int(_num(parts[1]))
        except ValueError:
            if n == 1:
                continue
            bad.append(f"[format] {COURIERS_FILE} line {n}: departure is not a number")
            continue
        cid, origin, dest = parts[0], parts[2], parts[3]
        if cid not in instance.couriers:
            bad.append(f"[ids] {COURIERS_FILE} line {n}: unknown courier {cid}")
            continue
        if cid != current:
            if cid in closed:
                bad.append(f"[format] {COURIERS_FILE}: moves of {cid} are not contiguous")
            if current is not None:
                closed.add(current)
            current = cid
        origin = cid if origin == "0" else origin
        if origin not in known or dest not in known:
            bad.append(f"[ids] {COURIERS_FILE} line {n}: unknown place")
            continue
        moves.setdefault(cid, []).append(_Move(dep, origin, dest))
    parsed = ParsedSolution(
        assignments=tuple(assignments),
        orders=orders,
        moves={k: tuple(v) for k, v in moves.items()},
    )
    return parsed, bad


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
    instance: MdrpInstance, parsed: ParsedSolution, bad: list[str]
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
            times.append(m.departure + instance.travel_minutes(m.origin, m.destination))
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
        model, ``[format]``/``[ids]``/``[files]`` layout); empty when feasible.
    """
    parsed, bad = parse_solution(instance, solution_dir)
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
    timelines = _timelines(instance, parsed, bad)
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
    return bad


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
    return float(
        np.mean(
            [
                o.ready_time
                + (instance.pickup_service_min + instance.dropoff_service_min) / 2
                + instance.travel_minutes(o.restaurant, o.order_id)
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
