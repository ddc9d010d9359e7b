"""``serve --workers N``: N API processes sharing one port, plus the dispatcher in its own process.

The parent serves nothing itself. It resolves the database once (joining the embedded server
when no ``DATABASE_URL`` is set, so the server lives exactly as long as the group), applies the
migrations, then starts ``serve --role api --reuse-port`` N times on the same port (the kernel's
SO_REUSEPORT spreads connections over them) and one ``serve --role dispatcher`` on its own port
(the dispatch rounds and the webhook relay, with health and metrics; niced, see DISPATCHER_NICE).
SIGTERM or SIGINT to the
parent stops every child with SIGTERM (SIGKILL after a grace period) before it exits; each child
also gets SIGTERM from the kernel if the parent dies without that (PR_SET_PDEATHSIG), so no
child outlives it. A child that exits by itself stops the whole group (exit 1): restarting is the
job of whatever runs the service (systemd, Kubernetes), which then sees one unit.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

#: Seconds a child may take to stop after SIGTERM before it gets SIGKILL.
STOP_GRACE_S = 20.0
#: The dispatcher's niceness: on a machine the API processes share with it, a request waiting for
#: a core goes before a round (rounds have seconds of budget, requests milliseconds), so a CPU-heavy
#: round slows down instead of the API (bench load measures the API's p99 with and without rounds).
DISPATCHER_NICE = 10
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What to start: how many API processes, where they and the dispatcher listen."""

    workers: int
    host: str
    port: int
    dispatcher_port: int
    road_network: Path | None = None


def free_port(host: str) -> int:
    """A port nobody listens on right now (for port 0: every API process needs the same number)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _dispatcher_setup() -> None:  # runs in the dispatcher between fork and exec
    _die_with_parent()
    os.nice(DISPATCHER_NICE)


def _command(plan: WorkerPlan, role: str, port: int) -> list[str]:
    command = [sys.executable, "-m", "dispatch", "serve", "--role", role, "--host", plan.host,
               "--port", str(port)]
    if role == "api":
        command.append("--reuse-port")
    if plan.road_network is not None:
        command += ["--road-network", str(plan.road_network)]
    return command


def start_children(plan: WorkerPlan, env: dict[str, str]) -> list[subprocess.Popen]:
    """The API processes, then the dispatcher; each dies with this process."""
    children = [subprocess.Popen(_command(plan, "api", plan.port), env=env, stdin=subprocess.DEVNULL,
                                 preexec_fn=_die_with_parent) for _ in range(plan.workers)]
    children.append(subprocess.Popen(_command(plan, "dispatcher", plan.dispatcher_port), env=env,
                                     stdin=subprocess.DEVNULL, preexec_fn=_dispatcher_setup))
    return children


def stop_children(children: Sequence[subprocess.Popen], *, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM to every child still running, wait, SIGKILL what is left; reaps them all."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def supervise(children: Sequence[subprocess.Popen]) -> int:
    """Wait for SIGTERM/SIGINT (0) or for a child to exit on its own (1); then stop them all."""
    stopping: list[int] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = 0
        while not stopping:
            if any(child.poll() is not None for child in children):
                code = 1
                break
            time.sleep(0.2)
    finally:
        stop_children(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return code


def child_environment(database_url: str) -> dict[str, str]:
    """This process's environment with the database every child must share."""
    return {**os.environ, "DATABASE_URL": database_url}
