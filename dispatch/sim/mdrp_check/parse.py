"""MDRP solution parsing: the three solution files read as the official evaluator reads them.

Reports the layout faults that make the official script crash or misread a file
(FORMAT.md sections 1–3): missing files, blank lines, fields not single-space separated,
unknown ids, a courier's moves split into two blocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from dispatch.sim.mdrp import ASSIGNMENTS_FILE, COURIERS_FILE, ORDERS_FILE, MdrpInstance

ORDER_COLUMNS = ("order", "placement_time", "ready_time", "pickup_time", "dropoff_time", "courier")


@dataclass(frozen=True, slots=True)
class AssignmentRow:
    """One line of the assignments file (``line`` is its line number)."""

    line: int
    assignment_time: int
    pickup_time: int
    courier: str
    orders: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One delivered order of the orders file."""

    order: str
    placement_time: float
    ready_time: float
    pickup_time: float
    dropoff_time: float
    courier: str


@dataclass(frozen=True, slots=True)
class MoveRow:
    """One courier movement (origin ``0`` already replaced by the courier's id)."""

    departure: int
    origin: str
    destination: str


@dataclass(frozen=True, slots=True)
class ParsedSolution:
    """The three solution files as read (rows that could not be read are left out)."""

    assignments: tuple[AssignmentRow, ...]
    orders: dict[str, OrderRow]
    moves: dict[str, tuple[MoveRow, ...]]


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

    assignments: list[AssignmentRow] = []
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
        assignments.append(AssignmentRow(n, a_time, p_time, parts[2], tuple(parts[3:])))

    orders: dict[str, OrderRow] = {}
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
        orders[row["order"]] = OrderRow(row["order"], placement, ready, pickup, dropoff, row["courier"])

    moves: dict[str, list[MoveRow]] = {}
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
        moves.setdefault(cid, []).append(MoveRow(dep, origin, dest))
    parsed = ParsedSolution(
        assignments=tuple(assignments),
        orders=orders,
        moves={k: tuple(v) for k, v in moves.items()},
    )
    return parsed, bad


