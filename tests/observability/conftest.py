"""A real Prometheus server (Debian's 2.42) for the live observability tests.

Every server gets its own storage folder and a free port on 127.0.0.1, and is killed at
teardown. Nothing here sleeps a fixed time: callers poll with a deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import math
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
WAIT_S = 30.0  # bound of every wait on Prometheus


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_panel_queries() -> ModuleType:
    """deploy/grafana/panel_queries.py, imported by path (deploy/ is not a package)."""
    name = "_deploy_panel_queries"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "grafana" / "panel_queries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: run `make promtool` (Debian package `prometheus`)")
    return path


class Prometheus:
    """One `prometheus` process scraping ``target`` (host:port) every second."""

    def __init__(self, folder: Path, target: str) -> None:
        self.folder = folder
        self.target = target
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "prometheus.log"
        self.proc: subprocess.Popen | None = None
        self._session: aiohttp.ClientSession | None = None

    def config(self) -> str:
        return (
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: flashdispatch\n"
            "    metrics_path: /metrics\n"
            "    static_configs:\n"
            f"      - targets: ['{self.target}']\n"
        )

    def start(self) -> None:
        config = self.folder / "prometheus.yml"
        config.write_text(self.config(), encoding="utf-8")
        storage = self.folder / "data"
        storage.mkdir()
        log = self.log_path.open("wb")
        try:
            self.proc = subprocess.Popen(
                [
                    require_binary("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={storage}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query at the server's now; raises on a PromQL or HTTP error."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        async with self._session.get(f"{self.url}/api/v1/query", params={"query": expr}) as response:
            body = await response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query failed: {expr}\n{body}")
        data = body["data"]
        if data["resultType"] == "scalar":
            return [{"metric": {}, "value": data["result"]}]
        return data["result"]

    async def value(self, expr: str) -> float | None:
        """The single value of ``expr`` or None (no data yet, or the server not up yet)."""
        try:
            result = await self.query(expr)
        except (aiohttp.ClientError, OSError, TimeoutError):
            return None
        if len(result) != 1:
            return None
        return float(result[0]["value"][1])

    async def wait_for(
        self, what: str, check: Callable[[], Awaitable[bool]], *, timeout_s: float = WAIT_S
    ) -> None:
        """Poll ``check`` every 0.25 s until true; fail after ``timeout_s`` with the server's log."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail(f"prometheus exited ({self.proc.returncode}):\n{self.log_tail()}")
            if await check():
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{self.log_tail()}")
            await asyncio.sleep(0.25)

    async def wait_up(self) -> None:
        async def up() -> bool:
            return await self.value('up{job="flashdispatch"}') == 1.0

        await self.wait_for("up == 1", up)

    async def wait_value(self, expr: str, expected: float, *, timeout_s: float = WAIT_S) -> None:
        async def equal() -> bool:
            got = await self.value(expr)
            return got is not None and math.isclose(got, expected)

        await self.wait_for(f"{expr} == {expected}", equal, timeout_s=timeout_s)


@pytest.fixture
async def prometheus_for(tmp_path: Path) -> AsyncIterator[Callable[[str], Prometheus]]:
    """``prometheus_for("127.0.0.1:PORT")`` starts a server scraping that target; all are killed."""
    servers: list[Prometheus] = []

    def start(target: str) -> Prometheus:
        folder = tmp_path / f"prometheus-{len(servers)}"
        folder.mkdir()
        server = Prometheus(folder, target)
        servers.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in servers:
            with contextlib.suppress(Exception):
                await server.stop()
            if server.proc is not None and server.proc.poll() is None:
                server.proc.kill()
