"""The traffic the benchmarks send: picklable workloads that make one request stream per slot."""

from __future__ import annotations

import json
import random
import secrets
from dataclasses import dataclass

from dispatch.bench.city import BenchCity
from dispatch.bench.load_generator import Request

_JSON = "application/json"


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": _JSON}


def order_body(order_id: str, city: BenchCity, rng: random.Random, *, max_lines: int) -> bytes:
    """A ``POST /v1/orders`` body: 1..max_lines distinct SKUs, a drop-off on the network."""
    skus = rng.sample(city.skus, rng.randint(1, min(max_lines, len(city.skus))))
    lat, lon = city.drop_points[rng.randrange(len(city.drop_points))]
    return json.dumps(
        {
            "order_id": order_id,
            "items": [{"sku": sku, "quantity": 1} for sku in skus],
            "drop_off": {"lat": lat, "lon": lon},
        }
    ).encode()


@dataclass(frozen=True, slots=True)
class OrderWorkload:
    """Only ``POST /v1/orders``, each with a unique id (also used against the no-op server)."""

    city: BenchCity
    token: str
    run_id: str
    max_lines: int = 3
    seed: int = 1

    def new_slot(self, slot: int, slots: int) -> _OrderSlot:
        return _OrderSlot(self, slot)


class _OrderSlot:
    def __init__(self, workload: OrderWorkload, slot: int) -> None:
        self.w = workload
        self.slot = slot
        self.rng = random.Random(workload.seed * 100_003 + slot)
        self.headers = _headers(workload.token)
        self.sent = 0
        self.placed: list[str] = []
        self.last_id = ""

    def next_request(self) -> Request:
        self.sent += 1
        self.last_id = f"{self.w.run_id}-{self.slot}-{self.sent}"
        body = order_body(self.last_id, self.w.city, self.rng, max_lines=self.w.max_lines)
        return Request("orders", "POST", "/v1/orders", self.headers, body, frozenset({201}))

    def answered(self, request: Request, status: int, body: bytes) -> None:
        if status == 201:
            self.placed.append(self.last_id)

    def results(self) -> dict[str, list]:
        return {"placed": self.placed}


@dataclass(frozen=True, slots=True)
class MixedWorkload:
    """Orders, stock deltas, courier positions and order reads, mixed by weight.

    Each store's deltas come from one slot only, so its versions rise strictly (no 409s).
    """

    city: BenchCity
    order_token: str
    operator_token: str
    courier_ids: tuple[str, ...]
    run_id: str
    weights: tuple[tuple[str, float], ...] = (
        ("orders", 0.35),
        ("positions", 0.35),
        ("order_reads", 0.2),
        ("stock_deltas", 0.1),
    )
    delta_changes: int = 50
    seed: int = 3

    def new_slot(self, slot: int, slots: int) -> _MixedSlot:
        return _MixedSlot(self, slot, slots)


class _MixedSlot:
    def __init__(self, workload: MixedWorkload, slot: int, slots: int) -> None:
        self.w = workload
        self.rng = random.Random(workload.seed * 100_003 + slot)
        self.orders = _OrderSlot(
            OrderWorkload(workload.city, workload.order_token, workload.run_id, seed=workload.seed), slot
        )
        self.operator = _headers(workload.operator_token)
        self.reader = {"Authorization": f"Bearer {workload.order_token}"}
        self.stores = [s for i, s in enumerate(workload.city.store_ids) if i % slots == slot]
        self.versions = dict.fromkeys(self.stores, 1)
        self.names = [n for n, _ in workload.weights]
        self.cumulative = []
        total = 0.0
        for _, weight in workload.weights:
            total += weight
            self.cumulative.append(total)

    def next_request(self) -> Request:
        kind = self.rng.choices(self.names, cum_weights=self.cumulative)[0]
        if kind == "stock_deltas" and self.stores:
            return self._delta()
        if kind == "positions" and self.w.courier_ids:
            return self._position()
        if kind == "order_reads" and self.orders.placed:
            order_id = self.orders.placed[self.rng.randrange(len(self.orders.placed))]
            path = f"/v1/orders/{order_id}"
            return Request("order_reads", "GET", path, self.reader, None, frozenset({200}))
        return self.orders.next_request()

    def _delta(self) -> Request:
        store_id = self.stores[self.rng.randrange(len(self.stores))]
        self.versions[store_id] += 1
        skus = self.rng.sample(self.w.city.skus, min(self.w.delta_changes, len(self.w.city.skus)))
        body = json.dumps(
            {"version": self.versions[store_id], "changes": [{"sku": s, "delta": 1} for s in skus]}
        ).encode()
        return Request(
            "stock_deltas", "PATCH", f"/v1/stores/{store_id}/stock", self.operator, body, frozenset({200})
        )

    def _position(self) -> Request:
        courier_id = self.w.courier_ids[self.rng.randrange(len(self.w.courier_ids))]
        lat, lon = self.w.city.drop_points[self.rng.randrange(len(self.w.city.drop_points))]
        body = json.dumps({"positions": [{"lat": lat, "lon": lon}]}).encode()
        return Request(
            "positions", "POST", f"/v1/couriers/{courier_id}/positions", self.operator, body, frozenset({202})
        )

    def answered(self, request: Request, status: int, body: bytes) -> None:
        if request.name == "orders":
            self.orders.answered(request, status, body)

    def results(self) -> dict[str, list]:
        return self.orders.results()


@dataclass(frozen=True, slots=True)
class BadTokenWorkload:
    """A flood of ``GET /v1/orders/{id}`` with a fresh random (unknown) token every time."""

    def new_slot(self, slot: int, slots: int) -> _BadTokenSlot:
        return _BadTokenSlot()


class _BadTokenSlot:
    def next_request(self) -> Request:
        headers = {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"}
        return Request("bad_token", "GET", "/v1/orders/nobody", headers, None, frozenset({401}))

    def answered(self, request: Request, status: int, body: bytes) -> None:
        pass

    def results(self) -> dict[str, list]:
        return {}
