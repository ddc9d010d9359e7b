"""The embedded PostgreSQL leaves no process behind: real `flashdispatch` processes on a fresh
home each, and the operating system's process table checked after they exit.

Every process using a home holds a shared lock on it; the last one out stops the server, on a
normal exit, on SIGINT (Ctrl+C) and on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.faults.conftest import FLASHDISPATCH, free_port, until

READY_S = 60.0  # bound of every wait for a process
# A process that uses the home's embedded server like any flashdispatch command, then holds it
# until its stdin closes.
HOLDER = (
    "import sys\n"
    "from pathlib import Path\n"
    "from dispatch.postgres.database import embedded_database_url\n"
    "print(embedded_database_url(Path(sys.argv[1])), flush=True)\n"
    "sys.stdin.read()\n"
)


def postmasters(home: Path) -> list[int]:
    """Pids of the running PostgreSQL servers whose data folder is under ``home``."""
    needle = str(home.resolve() / "pgdata").encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            if Path(argv[0].decode(errors="replace")).name == "postgres" and needle in argv:
                found.append(int(entry.name))
    return found


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}  # the embedded server, always
    env.update(FLASHDISPATCH_HOME=str(home), XDG_RUNTIME_DIR=os.environ.get("XDG_RUNTIME_DIR", "/tmp"))
    return env


@pytest.fixture
def home() -> Iterator[Path]:
    """A fresh home; any server a failed test left running there is stopped afterwards.

    Not under pytest's tmp_path: pytest makes /tmp/pytest-of-<user> 0700 again at every session
    start, and a server running as the `pgserver` user under it would lose its own files."""
    folder = Path(tempfile.mkdtemp(prefix="fd-home-", dir="/tmp")) / "home"
    yield folder
    for pid in postmasters(folder):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    shutil.rmtree(folder.parent, ignore_errors=True)


class Serve:
    """`flashdispatch serve` on the home's embedded server."""

    def __init__(self, home: Path) -> None:
        self.port = free_port()
        self.log = home.parent / f"serve-{self.port}.log"
        home.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [FLASHDISPATCH, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=environment(home), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def wait_ready(self) -> None:
        async def ready() -> bool:
            assert self.proc.poll() is None, f"serve exited ({self.proc.returncode}):\n{self.log.read_text()}"
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                async with aiohttp.ClientSession() as session, session.get(
                    f"http://127.0.0.1:{self.port}/readyz", timeout=aiohttp.ClientTimeout(total=2)
                ) as response:
                    return response.status == 200
            return False

        await until(ready, timeout_s=READY_S, what="serve ready")

    async def stop(self, signum: int) -> int:
        os.kill(self.proc.pid, signum)
        return await asyncio.to_thread(self.proc.wait, READY_S)

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@pytest.fixture
def serve(home: Path) -> Iterator[Serve]:
    server = Serve(home)
    try:
        yield server
    finally:
        server.kill()


def run(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run([FLASHDISPATCH, *argv], env=environment(home), capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def test_a_command_stops_the_server_it_started(home):
    done = run(home, "migrate")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("applied: 0001_core.sql"), done.stdout  # it did start a fresh server
    assert postmasters(home) == []
    # and the next command starts it again, and stops it again
    done = run(home, "token", "create", "--role", "order_system")
    assert done.returncode == 0, done.stderr
    assert postmasters(home) == []


def test_a_process_dying_of_an_exception_stops_the_server_too(home):
    home.mkdir(parents=True, exist_ok=True)
    crash = HOLDER.replace("sys.stdin.read()", "raise RuntimeError('boom')")
    done = subprocess.run([sys.executable, "-c", crash, str(home)], env=environment(home), capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert done.returncode == 1 and "host=" in done.stdout and "RuntimeError: boom" in done.stderr, done.stderr
    assert postmasters(home) == []


async def test_the_server_outlives_its_starter_while_another_process_uses_the_home(home, serve):
    home.mkdir(parents=True, exist_ok=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(home)], env=environment(home),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and "host=" in holder.stdout.readline()  # it started the server
        started = postmasters(home)
        assert len(started) == 1
        await serve.wait_ready()  # serve joined the same server
        assert postmasters(home) == started
        holder.communicate(timeout=READY_S)  # the starter exits first
        assert holder.returncode == 0
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    assert postmasters(home) == started, "the server stopped while serve still used it"
    await serve.wait_ready()  # still answering, database included
    # a short command comes and goes: the server stays for serve
    done = run(home, "migrate")
    assert done.returncode == 0 and "up to date" in done.stdout, done.stderr
    assert postmasters(home) == started
    # serve is the last one out: SIGTERM is a clean exit that stops the server
    assert await serve.stop(signal.SIGTERM) == 0
    assert postmasters(home) == []


async def test_ctrl_c_on_serve_stops_the_server(home, serve):
    await serve.wait_ready()
    assert len(postmasters(home)) == 1
    assert await serve.stop(signal.SIGINT) == 0
    assert postmasters(home) == []


async def test_a_killed_user_keeps_no_server_alive(home, serve):
    """SIGKILL runs no cleanup: the server stays; the next process using the home, alone now,
    stops it when it leaves."""
    await serve.wait_ready()
    started = postmasters(home)
    serve.kill()
    assert postmasters(home) == started
    done = run(home, "migrate")
    assert done.returncode == 0, done.stderr
    assert postmasters(home) == []


def test_demo_exits_zero_with_its_report_and_leaves_no_server(home, tmp_path):
    """`make demo` in small: the embedded server it started is gone when it exits."""
    report = tmp_path / "report"
    done = run(home, "demo", "--stores", "8", "--couriers", "24", "--minutes", "40", "--seed", "11",
               "--out", str(report))
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((report / "report.json").read_text())
    assert figures["all_accounted"] and figures["orders_placed"] > 0
    assert "database: fresh 'flashdispatch_demo' on embedded PostgreSQL" in done.stderr
    assert postmasters(home) == []
