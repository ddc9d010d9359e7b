"""A closed-loop HTTP load generator in separate processes (aiohttp keep-alive connections).

The service under test runs in the calling process, so the generator must not share its event
loop or its core: each worker process drives ``concurrency / processes`` connections, each
connection one request at a time, for a fixed time, and sends its latencies back.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from typing import Protocol

from dispatch.bench.report import percentile


@dataclass(frozen=True, slots=True)
class Request:
    """One request to send; ``ok`` are the statuses that are not errors for it."""

    name: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    ok: frozenset[int] = frozenset({200, 201, 202})


class Slot(Protocol):
    """The state of one connection's request stream."""

    def next_request(self) -> Request: ...

    def answered(self, request: Request, status: int, body: bytes) -> None: ...

    def results(self) -> dict[str, list]: ...


class Workload(Protocol):
    """Picklable description of the traffic; makes one slot per connection."""

    def new_slot(self, slot: int, slots: int) -> Slot: ...


@dataclass(frozen=True, slots=True)
class EndpointFigures:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def as_json(self) -> dict:
        from dispatch.bench.report import rounded

        return {
            "rps": rounded(self.rps, 1),
            "p50_ms": rounded(self.p50_ms),
            "p99_ms": rounded(self.p99_ms),
            "errors": self.errors,
        }


@dataclass
class LoadResult:
    """What the workers saw: latencies (ms) and statuses per request name, and slot results."""

    seconds: float
    latencies_ms: dict[str, array] = field(default_factory=dict)
    statuses: dict[str, Counter] = field(default_factory=dict)
    errors: Counter = field(default_factory=Counter)
    samples: dict[str, list[str]] = field(default_factory=dict)  # name -> a few error bodies
    extra: dict[str, list] = field(default_factory=dict)

    def merge(self, part: dict) -> None:
        for name, values in part["latencies_ms"].items():
            self.latencies_ms.setdefault(name, array("d")).extend(values)
        for name, counts in part["statuses"].items():
            self.statuses.setdefault(name, Counter()).update(counts)
        self.errors.update(part["errors"])
        for name, bodies in part["samples"].items():
            kept = self.samples.setdefault(name, [])
            kept.extend(bodies[: max(0, 5 - len(kept))])
        for key, values in part["extra"].items():
            self.extra.setdefault(key, []).extend(values)

    def names(self) -> list[str]:
        return sorted(self.latencies_ms)

    def figures(self, name: str) -> EndpointFigures:
        values = self.latencies_ms.get(name, array("d"))
        return EndpointFigures(
            requests=len(values),
            rps=len(values) / self.seconds if self.seconds > 0 else 0.0,
            p50_ms=percentile(values, 50),
            p99_ms=percentile(values, 99),
            errors=self.errors.get(name, 0),
        )

    def server_errors(self) -> int:
        return sum(n for counts in self.statuses.values() for s, n in counts.items() if s >= 500)


def run_load(
    base_url: str,
    workload: Workload,
    *,
    concurrency: int,
    seconds: float,
    processes: int = 1,
    warmup_s: float = 0.5,
) -> LoadResult:
    """Drive ``workload`` against ``base_url`` (blocking: call it through ``asyncio.to_thread``)."""
    processes = max(1, min(processes, concurrency))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    shares = [concurrency // processes + (1 if i < concurrency % processes else 0) for i in range(processes)]
    workers = []
    first = 0
    for share in shares:
        plan = _WorkerPlan(base_url=base_url, workload=workload, first=first, count=share,
                           slots=concurrency, seconds=seconds, warmup_s=warmup_s)
        worker = context.Process(target=_worker, args=(plan, queue), daemon=True)
        worker.start()
        workers.append(worker)
        first += share
    result = LoadResult(seconds)
    try:
        for _ in workers:
            part = queue.get(timeout=seconds + warmup_s + 60)
            if "failure" in part:
                raise RuntimeError(f"load worker failed: {part['failure']}")
            result.merge(part)
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    return result


@dataclass(frozen=True, slots=True)
class _WorkerPlan:
    """One worker process's share (picklable): connections ``first .. first + count - 1`` of ``slots``."""

    base_url: str
    workload: Workload
    first: int
    count: int
    slots: int
    seconds: float
    warmup_s: float


def _worker(plan: _WorkerPlan, queue: multiprocessing.Queue) -> None:
    try:
        queue.put(asyncio.run(_drive(plan)))
    except BaseException as exc:  # report it to the parent instead of hanging it
        queue.put({"failure": f"{type(exc).__name__}: {exc}"})


async def _drive(plan: _WorkerPlan) -> dict:
    import aiohttp

    latencies: dict[str, array] = {}
    statuses: dict[str, Counter] = {}
    errors: Counter = Counter()
    samples: dict[str, list[str]] = {}
    started = time.perf_counter()
    measure_from = started + plan.warmup_s
    deadline = measure_from + plan.seconds
    connector = aiohttp.TCPConnector(limit=plan.count, force_close=False, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=30)
    slot_states = [plan.workload.new_slot(plan.first + i, plan.slots) for i in range(plan.count)]

    async def connection(slot: Slot, session: aiohttp.ClientSession) -> None:
        while True:
            request = slot.next_request()
            sent = time.perf_counter()
            if sent >= deadline:
                return
            try:
                async with session.request(
                    request.method, plan.base_url + request.path, data=request.body, headers=request.headers
                ) as response:
                    body = await response.read()
                    status = response.status
            except (TimeoutError, aiohttp.ClientError) as exc:
                status, body = 599, f"{type(exc).__name__}: {exc}".encode()
            done = time.perf_counter()
            slot.answered(request, status, body)
            if sent < measure_from:
                continue
            latencies.setdefault(request.name, array("d")).append((done - sent) * 1000.0)
            statuses.setdefault(request.name, Counter())[status] += 1
            if status not in request.ok:
                errors[request.name] += 1
                kept = samples.setdefault(request.name, [])
                if len(kept) < 5:
                    kept.append(f"{status} {body[:200].decode('utf-8', 'replace')}")

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(connection(s, session) for s in slot_states))
    extra: dict[str, list] = {}
    for slot in slot_states:
        for key, values in slot.results().items():
            extra.setdefault(key, []).extend(values)
    return {
        "latencies_ms": latencies,
        "statuses": statuses,
        "errors": errors,
        "samples": samples,
        "extra": extra,
    }
