"""PostgreSQL restarts and dropped connections while serving: 503 `unavailable`, never a 500,
and the service recovers by itself within 10 seconds.

The shared test server is never touched: each test starts a private embedded PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from tests.e2e.test_orders_api import layout  # noqa: F401  (fixture)
from tests.faults.conftest import OPERATOR, until
from tests.faults.world import build_world, call, order_body

RECOVERY_S = 10.0


class PrivateServer:
    """A private pgserver we may stop and start (pg_ctl) without disturbing other tests."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import pgserver
            from pgserver._commands import pg_ctl

        self._pg_ctl = pg_ctl
        self.folder = Path(tempfile.mkdtemp(prefix="fd-faults-pg-", dir="/tmp"))
        self.server = pgserver.get_server(self.folder, cleanup_mode="stop")
        self.url = self.server.get_uri()
        self.socket_dir = self.url.split("host=", 1)[1]

    def stop(self) -> None:
        self._pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.server.pgdata, user=self.server.system_user,
                     timeout=20)

    def start(self) -> None:
        self._pg_ctl(["-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.server.log), "start"],
                     pgdata=self.server.pgdata, user=self.server.system_user, timeout=20)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        with contextlib.suppress(Exception):
            self.server.cleanup()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def private_pg():
    server = PrivateServer()
    try:
        yield server
    finally:
        server.close()


class Traffic:
    """Orders and stock reads in a loop; every answer's status and error code is kept."""

    def __init__(self, base: str, world, network, node) -> None:
        self.base = base
        self.world = world
        self.network = network
        self.node = node
        self.seen: Counter[tuple[int, str | None]] = Counter()
        self.ok = 0  # 2xx answers
        self.last_ok = 0.0
        self.first_failure: float | None = None
        self.bad: list[tuple[int, dict]] = []
        self.created: dict[str, dict] = {}
        self._stop = asyncio.Event()
        self._n = 0

    async def run(self, worker_id: int) -> None:
        async with aiohttp.ClientSession() as session:
            while not self._stop.is_set():
                self._n += 1
                order_id = f"w{worker_id}-{self._n}"
                try:
                    status, body = await call(session, "POST", self.base + "/v1/orders",
                                              json=order_body(order_id, self.network, self.node),
                                              headers=self.world.system)
                    self._record(status, body)
                    if status == 201:
                        self.created[order_id] = body
                    status, body = await call(session, "GET", self.base + "/v1/stores/s1/stock?sku=milk",
                                              headers=OPERATOR)
                    self._record(status, body)
                except (TimeoutError, aiohttp.ClientError) as exc:  # the service must stay up
                    self.bad.append((0, {"client_error": repr(exc)}))
                await asyncio.sleep(0.02)

    def _record(self, status: int, body: dict) -> None:
        self.seen[(status, body.get("error"))] += 1
        if status < 300:
            self.ok += 1
            self.last_ok = time.monotonic()
        elif status == 503 and body.get("error") == "unavailable" and body.get("detail"):
            if self.first_failure is None:
                self.first_failure = time.monotonic()
        else:
            self.bad.append((status, body))

    @property
    def unavailable(self) -> int:
        """503 `unavailable` answers so far."""
        return self.seen[(503, "unavailable")]

    async def wait(self, what: str, predicate, *, timeout_s: float = RECOVERY_S) -> None:
        async def check() -> bool:
            return predicate()

        await until(check, timeout_s=timeout_s, interval_s=0.02, what=f"{what}; seen {dict(self.seen)}")

    def stop(self) -> None:
        self._stop.set()


async def wait_recovered(traffic: Traffic, since: float, *, timeout_s: float = RECOVERY_S) -> float:
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        if traffic.last_ok > since:
            return traffic.last_ok - since
        await asyncio.sleep(0.05)
    raise AssertionError(f"no successful request within {timeout_s} s; seen {dict(traffic.seen)}")


async def serve_with_traffic(spawn, private_pg, road_network, layout):  # noqa: F811
    service = spawn(name="svc", database_url=private_pg.url)
    await service.wait_ready()
    world = await build_world(service.url, road_network, layout, stock=100_000)
    traffic = Traffic(service.url, world, road_network, layout["drop"])
    tasks = [asyncio.create_task(traffic.run(i)) for i in range(4)]
    await traffic.wait("traffic answered", lambda: traffic.ok >= 20)
    assert traffic.unavailable == 0 and not traffic.bad, dict(traffic.seen)
    return service, traffic, tasks


async def finish(service, traffic, tasks, private_pg) -> None:
    traffic.stop()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)
    assert not traffic.bad, f"answers other than 2xx or 503 unavailable: {traffic.bad[:5]}"
    assert service.alive
    # the outage is logged as warnings (asyncpg's own pool warnings carry its traceback), never as
    # an error of ours: no unexpected exception, no failed dispatch round
    errors = [line for line in service.log_text().splitlines() if '"level": "error"' in line]
    assert not errors, errors[:3]
    # every order answered 201 exists, exactly once
    conn = await asyncpg.connect(private_pg.url)
    try:
        stored = {r["order_id"] for r in await conn.fetch("SELECT order_id FROM orders")}
        reserved = await conn.fetchval("SELECT reserved FROM stock WHERE sku = 'milk'")
    finally:
        await conn.close()
    assert set(traffic.created) <= stored
    assert reserved == len(stored)


async def test_postgres_restart_is_503_then_recovers(spawn, private_pg, road_network, layout):  # noqa: F811
    service, traffic, tasks = await serve_with_traffic(spawn, private_pg, road_network, layout)
    await asyncio.to_thread(private_pg.stop)
    # the outage is felt: requests meet it and are answered 503 unavailable
    await traffic.wait("20 answers 503 unavailable", lambda: traffic.unavailable >= 20)
    async with aiohttp.ClientSession() as session:
        status, body = await call(session, "GET", service.url + "/readyz")
    assert status == 503 and body["status"] == "not_ready"
    await asyncio.to_thread(private_pg.start)
    restarted = time.monotonic()
    recovery = await wait_recovered(traffic, restarted)
    ok_at_recovery = traffic.ok
    await traffic.wait("and it stays recovered: 50 more 2xx", lambda: traffic.ok >= ok_at_recovery + 50)
    await finish(service, traffic, tasks, private_pg)
    assert traffic.unavailable >= 20, dict(traffic.seen)
    print(f"recovered {recovery:.2f} s after the restart; answers {dict(traffic.seen)}")


async def test_dropped_connections_are_503_then_recover(spawn, private_pg, road_network, layout):  # noqa: F811
    service, traffic, tasks = await serve_with_traffic(spawn, private_pg, road_network, layout)
    locker = await asyncpg.connect(private_pg.url)
    # pg_stat_activity is read outside the locker's transaction (a transaction sees one snapshot)
    watcher = await asyncpg.connect(private_pg.url)
    spared = [locker.get_server_pid(), watcher.get_server_pid()]
    try:
        for _ in range(3):
            before = traffic.unavailable
            # requests wait on this lock (every order and stock read touches `stores`), so the
            # connections dropped are ones requests are waiting on, not only idle ones; drop them
            # again (retries included) until a request meets the failure
            async with locker.transaction():
                await locker.execute("LOCK TABLE stores IN ACCESS EXCLUSIVE MODE")
                await until(lambda: _waiting(watcher), timeout_s=RECOVERY_S, interval_s=0.01,
                            what="a request waiting on the lock")
                deadline = time.monotonic() + RECOVERY_S
                while traffic.unavailable == before:
                    assert time.monotonic() < deadline, f"no request met the dropped connections: {dict(traffic.seen)}"
                    dropped = time.monotonic()
                    await watcher.fetchval(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE pid <> ALL($1::int[])"
                        " AND datname = current_database() AND backend_type = 'client backend'", spared)

                    async def met_or_retried(b=before) -> bool:
                        return traffic.unavailable > b or await _waiting(watcher)

                    await until(met_or_retried, timeout_s=RECOVERY_S, interval_s=0.01,
                                what=f"a 503 or a retry waiting on the lock; seen {dict(traffic.seen)}")
            await wait_recovered(traffic, dropped)
    finally:
        await locker.close()
        await watcher.close()
    await finish(service, traffic, tasks, private_pg)
    assert traffic.unavailable >= 3, dict(traffic.seen)


async def _waiting(watcher) -> bool:
    """A request of the service waits on a lock (the test's)."""
    return await watcher.fetchval(
        "SELECT count(*) > 0 FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock' AND backend_type = 'client backend'")
