"""An HTTP load generator in separate processes (aiohttp keep-alive connections).

The service under test may run in the calling process, so the generator must not share its
event loop: each worker process drives ``concurrency / processes`` connections, each connection
one request at a time, for a fixed time, and sends its latencies and its own CPU time back.
Closed loop by default (each connection sends as soon as the last answer came); with
``rate_per_s`` open loop: every connection sends on a fixed schedule (``rate / concurrency`` per
second, staggered) and a latency counts from the moment the request was due, so a slow answer
that delays the next request is not hidden (no coordinated omission).
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
    client_cpu_s: float = 0.0  # CPU seconds the worker processes used, warm-up included

    def merge(self, part: dict) -> None:
        self.client_cpu_s += part.get("cpu_s", 0.0)
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
    rate_per_s: float | None = None,
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
                           slots=concurrency, seconds=seconds, warmup_s=warmup_s, rate_per_s=rate_per_s)
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
    rate_per_s: float | None = None  # all connections together; None: closed loop


def _worker(plan: _WorkerPlan, queue: multiprocessing.Queue) -> None:
    try:
        queue.put(asyncio.run(_drive(plan)))
    except BaseException as exc:  # report it to the parent instead of hanging it
        queue.put({"failure": f"{type(exc).__name__}: {exc}"})


class _Recorder:
    """What one worker process saw in the measured window."""

    def __init__(self) -> None:
        self.latencies: dict[str, array] = {}
        self.statuses: dict[str, Counter] = {}
        self.errors: Counter = Counter()
        self.samples: dict[str, list[str]] = {}

    def record(self, request: Request, status: int, body: bytes, latency_ms: float) -> None:
        self.latencies.setdefault(request.name, array("d")).append(latency_ms)
        self.statuses.setdefault(request.name, Counter())[status] += 1
        if status not in request.ok:
            self.errors[request.name] += 1
            kept = self.samples.setdefault(request.name, [])
            if len(kept) < 5:
                kept.append(f"{status} {body[:200].decode('utf-8', 'replace')}")


async def _drive(plan: _WorkerPlan) -> dict:
    import aiohttp

    cpu0 = time.process_time()
    seen = _Recorder()
    started = time.perf_counter()
    measure_from = started + plan.warmup_s
    deadline = measure_from + plan.seconds
    connector = aiohttp.TCPConnector(limit=plan.count, force_close=False, ttl_dns_cache=None)
    timeout = aiohttp.ClientTimeout(total=30)
    slot_states = [plan.workload.new_slot(plan.first + i, plan.slots) for i in range(plan.count)]
    # open loop: connection k of n sends at started + (k + i·n) / rate, i = 0, 1, 2, …
    interval = plan.slots / plan.rate_per_s if plan.rate_per_s else 0.0

    async def connection(k: int, slot: Slot, session: aiohttp.ClientSession) -> None:
        due = started + (plan.first + k) / plan.rate_per_s if plan.rate_per_s else 0.0
        while True:
            request = slot.next_request()
            now = time.perf_counter()
            if interval:
                if due > now:
                    await asyncio.sleep(due - now)
                sent, due = due, due + interval  # the latency counts from when it was due
            else:
                sent = now
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
            slot.answered(request, status, body)
            if sent >= measure_from:
                seen.record(request, status, body, (time.perf_counter() - sent) * 1000.0)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(connection(k, s, session) for k, s in enumerate(slot_states)))
    extra: dict[str, list] = {}
    for slot in slot_states:
        for key, values in slot.results().items():
            extra.setdefault(key, []).extend(values)
    return {
        "latencies_ms": seen.latencies,
        "statuses": seen.statuses,
        "errors": seen.errors,
        "samples": seen.samples,
        "extra": extra,
        "cpu_s": time.process_time() - cpu0,
    }
