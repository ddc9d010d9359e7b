"""The service as real processes: ``flashdispatch serve --workers N`` on 127.0.0.1 over a given database.

Benchmarks that measure more than one API process cannot run the service in their own process;
this starts the real command, waits until the API port and the dispatcher answer ``/readyz``,
measures the CPU of the whole process tree, and stops it with SIGTERM (SIGKILL if it lingers).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import psutil

from dispatch.bench.server import BENCH_HOST
from dispatch.workers import free_port

READY_S = 120.0


@dataclass(frozen=True, slots=True)
class RunningGroup:
    """A started ``serve --workers`` group: where it listens and its parent process."""

    base_url: str
    dispatcher_url: str
    process: subprocess.Popen

    def cpu_s(self) -> float:
        """CPU seconds used so far by the parent and every process below it (Linux /proc)."""
        total = 0.0
        try:
            parent = psutil.Process(self.process.pid)
            for p in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = p.cpu_times()
                    total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
        return total


async def _wait_ready(group: RunningGroup, log: Path) -> None:
    deadline = time.monotonic() + READY_S
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while time.monotonic() < deadline:
            if group.process.poll() is not None:
                raise RuntimeError(f"serve --workers exited ({group.process.returncode}): "
                                   + log.read_text(errors="replace")[-2000:])
            ready = 0
            for url in (group.base_url, group.dispatcher_url):
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url + "/readyz") as response:
                        ready += response.status == 200
            if ready == 2:
                return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"serve --workers not ready in {READY_S:g} s")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


@contextlib.asynccontextmanager
async def running_group(
    database_url: str, *, workers: int, operator_token: str, home: Path, env: dict[str, str] | None = None,
    road_network: Path | None = None,
) -> AsyncIterator[RunningGroup]:
    """``serve --workers N`` on free ports of 127.0.0.1 over ``database_url`` (already migrated)."""
    port, dispatcher_port = free_port(BENCH_HOST), free_port(BENCH_HOST)
    command = [sys.executable, "-m", "dispatch", "serve", "--workers", str(workers), "--host", BENCH_HOST,
               "--port", str(port), "--dispatcher-port", str(dispatcher_port)]
    if road_network is not None:
        command += ["--road-network", str(road_network)]
    home.mkdir(parents=True, exist_ok=True)
    log = home / f"workers-{port}.log"
    child_env = {**os.environ, "DATABASE_URL": database_url, "FLASHDISPATCH_OPERATOR_TOKEN": operator_token,
                 "FLASHDISPATCH_HOME": str(home), **(env or {})}
    with log.open("ab") as out:
        process = subprocess.Popen(command, env=child_env, stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    group = RunningGroup(f"http://{BENCH_HOST}:{port}", f"http://{BENCH_HOST}:{dispatcher_port}", process)
    try:
        await _wait_ready(group, log)
        yield group
    finally:
        await asyncio.to_thread(_stop, process)
