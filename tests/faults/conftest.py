"""Real `flashdispatch serve` processes for the fault suite: started on 127.0.0.1, waited for with
a deadline, killed with SIGKILL, and always killed at teardown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import OPERATOR_TOKEN, ROOT

FLASHDISPATCH = str(Path(sys.executable).parent / "flashdispatch")
READY_S = 60.0  # bound of every wait for a process to be ready
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """One `flashdispatch serve` process."""

    def __init__(self, *, database_url: str, home: Path, role: str = "all", name: str = "svc",
                 interval_s: float = 0.5, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.role = role
        self.name = name
        self.log_path = home / f"{name}-{self.port}.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "FLASHDISPATCH_OPERATOR_TOKEN": OPERATOR_TOKEN,
            "FLASHDISPATCH_HOME": str(home),
            "FLASHDISPATCH_DISPATCH_INTERVAL_S": str(interval_s),
            "FLASHDISPATCH_LOG_LEVEL": "INFO",
            "XDG_RUNTIME_DIR": os.environ.get("XDG_RUNTIME_DIR", "/tmp"),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        try:
            self.proc = subprocess.Popen(
                [FLASHDISPATCH, "serve", "--role", self.role, "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()
        return self

    async def wait_ready(self, timeout_s: float = READY_S) -> None:
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                    async with session.get(self.url + "/readyz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        if r.status == 200:
                            return
                await asyncio.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout_s} s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup — the crash the suite is about."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


@pytest.fixture
async def spawn(database_url, tmp_path) -> AsyncIterator[Callable[..., Service]]:
    """``spawn(role=..., name=...)`` starts a service process; every one is killed at teardown."""
    started: list[Service] = []

    def start(**kwargs) -> Service:
        kwargs.setdefault("database_url", database_url)
        service = Service(home=tmp_path, **kwargs).start()
        started.append(service)
        return service

    try:
        yield start
    finally:
        for service in started:
            service.kill()


async def until(predicate, *, timeout_s: float, interval_s: float = 0.1, what: str = "condition"):
    """Poll ``predicate`` (async) until it returns a truthy value, or fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s} s")
        await asyncio.sleep(interval_s)
