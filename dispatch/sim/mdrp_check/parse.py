"""MDRP solution parsing: the three solution files read as the official evaluator reads them.

Reports the layout faults that make the official script crash or misread a file
(FORMAT.md sections 1–3): missing files, blank lines, fields not single-space separated,
unknown ids, a courier's moves split into two blocks.
"""

from __future__ import annotations

import math
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path

from dispatch.sim.mdrp_format import ASSIGNMENTS_FILE, COURIERS_FILE, ORDERS_FILE, MdrpInstance

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
    texts = _read_texts(solution_dir, bad)
    assignments = _parse_assignments(instance, texts[ASSIGNMENTS_FILE].splitlines(), bad)
    orders = _parse_orders(instance, texts[ORDERS_FILE].splitlines(), bad)
    moves = _parse_moves(instance, texts[COURIERS_FILE].splitlines(), bad)
    parsed = ParsedSolution(
        assignments=tuple(assignments),
        orders=orders,
        moves={k: tuple(v) for k, v in moves.items()},
    )
    return parsed, bad


def _read_texts(solution_dir: Path, bad: list[str]) -> dict[str, str]:
    """Each file's text; a missing file reads as empty so the other files are still checked."""
    texts: dict[str, str] = {}
    for name in (ASSIGNMENTS_FILE, ORDERS_FILE, COURIERS_FILE):
        try:
            texts[name] = (solution_dir / name).read_text()
        except OSError:
            bad.append(f"[files] {name} missing")
            texts[name] = ""
    return texts


def _parse_assignments(instance: MdrpInstance, a_lines: list[str], bad: list[str]) -> list[AssignmentRow]:
    """The assignment lines after the header; a line the evaluator would misread is reported."""
    assignments: list[AssignmentRow] = []
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
    return assignments


def _parse_orders(instance: MdrpInstance, o_lines: list[str], bad: list[str]) -> dict[str, OrderRow]:
    """The orders file, read by its header's column names (rows skipped if a column is missing)."""
    orders: dict[str, OrderRow] = {}
    header = o_lines[0].split(" ") if o_lines else []
    missing = [c for c in ORDER_COLUMNS if c not in header]
    if missing:
        bad.append(f"[format] {ORDERS_FILE} header lacks columns {missing}")
    for n, raw in enumerate(o_lines, start=1):
        if "\t" in raw or "  " in raw or raw != raw.strip() or not raw:
            bad.append(f"[format] {ORDERS_FILE} line {n}: fields must be single-space separated")
    for n, raw in enumerate(o_lines[1:] if not missing else [], start=2):
        row = _order_row(instance, header, raw, n, seen=orders, bad=bad)
        if row is not None:
            orders[row.order] = row
    return orders


def _order_row(
    instance: MdrpInstance,
    header: list[str],
    raw: str,
    n: int,
    *,
    seen: Container[str],
    bad: list[str],
) -> OrderRow | None:
    """One order line as a row, or ``None`` (reported) when the evaluator could not use it."""
    cells = raw.strip().split()
    if len(cells) != len(header):
        bad.append(f"[format] {ORDERS_FILE} line {n}: {len(cells)} fields, not {len(header)}")
        return None
    row = dict(zip(header, cells, strict=True))
    if row["order"] not in instance.orders:
        bad.append(f"[ids] {ORDERS_FILE} line {n}: unknown order {row['order']}")
        return None
    if row["order"] in seen:
        bad.append(f"[format] {ORDERS_FILE}: order {row['order']} listed twice")
        return None
    try:
        placement, ready, pickup, dropoff = (_num(row[c]) for c in ORDER_COLUMNS[1:5])
    except ValueError:
        bad.append(f"[format] {ORDERS_FILE} line {n}: {row['order']} listed but not delivered")
        return None
    if row["courier"] not in instance.couriers:
        bad.append(f"[ids] {ORDERS_FILE} line {n}: unknown courier {row['courier']}")
        return None
    return OrderRow(row["order"], placement, ready, pickup, dropoff, row["courier"])


def _parse_moves(instance: MdrpInstance, c_lines: list[str], bad: list[str]) -> dict[str, list[MoveRow]]:
    """Each courier's moves in file order; the evaluator needs one block of lines per courier."""
    known = set(instance.orders) | set(instance.restaurants) | set(instance.couriers)
    moves: dict[str, list[MoveRow]] = {}
    closed: set[str] = set()
    current: str | None = None
    for n, raw in enumerate(c_lines, start=1):
        parts = _move_fields(instance, raw, n, bad)
        if parts is None:
            continue
        dep, cid, origin, dest = parts
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
    return moves


def _move_fields(
    instance: MdrpInstance, raw: str, n: int, bad: list[str]
) -> tuple[int, str, str, str] | None:
    """(departure, courier, origin, destination) of a move line; ``None`` for the header,
    a blank line or a line the evaluator could not use (reported)."""
    parts = raw.split()
    if not parts:
        return None
    if len(parts) != 4:
        bad.append(f"[format] {COURIERS_FILE} line {n} does not have 4 fields")
        return None
    try:
        dep = int(_num(parts[1]))
    except ValueError:
        if n != 1:
            bad.append(f"[format] {COURIERS_FILE} line {n}: departure is not a number")
        return None
    cid, origin, dest = parts[0], parts[2], parts[3]
    if cid not in instance.couriers:
        bad.append(f"[ids] {COURIERS_FILE} line {n}: unknown courier {cid}")
        return None
    return dep, cid, origin, dest
