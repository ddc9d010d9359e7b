"""Turn what the database says into the engine's inputs, and the engine's plan into predictions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from dispatch.couriers.model import CourierRow, OpenOrderRow
from dispatch.engine.model import CourierState, OpenOrder
from geo.network import RoadNetwork
from stores.catalog import StoreCatalog
from stores.model import Store


def epoch(moment: datetime) -> float:
    return moment.timestamp()


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True, slots=True)
class CourierView:
    """Couriers split by what dispatch may do with them this round."""

    states: tuple[CourierState, ...]  # on shift, heard from recently
    idle: frozenset[str]  # no active route: may be committed a new one
    silent: tuple[str, ...]  # on shift but not heard from for too long
    by_state: dict[tuple[str, str], int]  # (zone, off|idle|busy) -> count


def _slowed_after_placing(store: Store, row: OpenOrderRow) -> bool:
    """A store that went busy after the order came in packs it later by its extra minutes
    (an order placed while it was busy already has them in its ready time)."""
    status = store.status
    return status.state == "busy" and status.since is not None and row.placed_at < status.since


def engine_orders(
    rows: Sequence[OpenOrderRow], catalog: StoreCatalog, *, aim_s: float | None = None
) -> list[OpenOrder]:
    """Orders still waiting for a courier (status reserved), at stores the catalog knows.

    With ``aim_s``, the engine aims at most that long after placement whatever the promise: an
    extended promise tells the customer the truth, it does not let dispatch serve the order later
    (else newer orders overtake it, the prediction it was promised on goes stale, and the margin
    kept for that staleness grows the next extensions)."""
    out = []
    for row in rows:
        if row.status != "reserved":
            continue
        position = catalog.position(row.store_id)
        if position is None:
            continue
        ready = row.ready_at if row.packed_at is None else min(row.ready_at, row.packed_at)
        store = catalog.stores[position]
        if row.packed_at is None and _slowed_after_placing(store, row):
            ready += timedelta(minutes=store.status.extra_pick_minutes)
        out.append(
            OpenOrder(
                order_id=row.order_id,
                store_id=row.store_id,
                store_location=int(catalog.nodes[position]),
                dropoff=row.drop_node,
                placed_at=epoch(row.placed_at),
                ready_at=epoch(ready),
                promised_by=epoch(
                    row.promised_by
                    if aim_s is None
                    else min(row.promised_by, row.placed_at + timedelta(seconds=aim_s))
                ),
            )
        )
    return out


def engine_couriers(
    rows: Sequence[CourierRow],
    *,
    network: RoadNetwork,
    now: datetime,
    silence_s: float,
    max_snap_m: float,
    default_shift_s: float,
    after_handover_s: float = 0.0,
) -> CourierView:
    """The couriers as the engine sees them. An idle courier whose last route ended with a
    handover moments ago is free ``after_handover_s`` after it (the engine's own model: half the
    service time at the door comes after the handover), not the moment the route closed."""
    states: list[CourierState] = []
    idle: set[str] = set()
    silent: list[str] = []
    by_state: dict[tuple[str, str], int] = {}
    located = [r for r in rows if r.on_shift and r.lat is not None]
    nodes, distances = (
        network.snap_many(np.array([r.lat for r in located]), np.array([r.lon for r in located]))
        if located
        else (np.zeros(0, dtype=np.int64), np.zeros(0))
    )
    node_of = {r.courier_id: (int(n), float(d)) for r, n, d in zip(located, nodes, distances, strict=True)}
    t = epoch(now)
    for row in rows:
        busy = row.route_id is not None
        state = "off" if not row.on_shift else ("busy" if busy else "idle")
        by_state[(row.zone, state)] = by_state.get((row.zone, state), 0) + 1
        if not row.on_shift or row.courier_id not in node_of:
            continue
        if row.position_at is not None and (now - row.position_at).total_seconds() > silence_s:
            silent.append(row.courier_id)
            continue
        node, distance = node_of[row.courier_id]
        if distance > max_snap_m and not busy:
            continue  # off the map: cannot be routed until it reports a usable position
        shift_end = epoch(row.shift_ends_at) if row.shift_ends_at else t + default_shift_s
        if busy:
            location = row.route_end_node if row.route_end_node is not None else node
            free_at = max(t, epoch(row.route_free_at)) if row.route_free_at else t
        else:
            location, free_at = node, t
            if row.last_handover_at is not None:
                free_at = max(t, epoch(row.last_handover_at) + after_handover_s)
            idle.add(row.courier_id)
        states.append(CourierState(row.courier_id, location, free_at, shift_end, row.capacity))
    return CourierView(tuple(states), frozenset(idle), tuple(silent), by_state)


def courier_eta_by_store(
    states: Sequence[CourierState], catalog: StoreCatalog, *, now: datetime, default_s: float
) -> dict[str, float]:
    """For each store, the soonest any courier could be there (free time plus the ride)."""
    if catalog.tables is None or not states:
        return {s.store_id: default_s for s in catalog.stores}
    t = epoch(now)
    nodes = np.array([c.location for c in states], dtype=np.int64)
    wait = np.array([max(0.0, c.free_at - t) for c in states])
    eta = catalog.tables.eta_matrix(nodes) + wait[:, None]
    best = eta.min(axis=0)
    return {
        s.store_id: float(best[i]) if np.isfinite(best[i]) else default_s
        for i, s in enumerate(catalog.stores)
    }


def at(seconds: float) -> datetime:
    return from_epoch(seconds)


def later(moment: datetime, seconds: float) -> datetime:
    return moment + timedelta(seconds=seconds)
