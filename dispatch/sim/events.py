"""The demo's timed-action queue on the virtual clock.

Actions are kept in one heap ordered by (time, scheduling order) and run one at a time, so the
same seed always plays the same day. Moving to an action's time sets the service's clock.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Awaitable, Callable
from datetime import datetime

from dispatch.clock import VirtualClock
from dispatch.sim.city import DemoConfig, at

Action = Callable[[], Awaitable[None]]


class EventQueue:
    """Timed actions on the simulated day's clock (seconds from the day's start)."""

    def __init__(self, *, config: DemoConfig, clock: VirtualClock) -> None:
        self.config = config
        self.clock = clock
        self.now_s = 0.0
        self._heap: list[tuple[float, int, Action]] = []
        self._seq = itertools.count()

    def schedule(self, t_s: float, action: Action) -> None:
        """Run `action` at simulated second `t_s` (after anything already due then)."""
        heapq.heappush(self._heap, (t_s, next(self._seq), action))

    def __bool__(self) -> bool:
        return bool(self._heap)

    def pop(self) -> tuple[float, Action]:
        """The next action and its time, earliest first, ties in scheduling order."""
        t_s, _, action = heapq.heappop(self._heap)
        return t_s, action

    def advance_to(self, t_s: float) -> None:
        """Move the clock forward to `t_s` (never back)."""
        if t_s > self.now_s:
            self.now_s = t_s
            self.clock.set(at(self.config, t_s))

    def sim_s(self, iso: str) -> float:
        """An ISO time from the service as seconds of the simulated day."""
        return (datetime.fromisoformat(iso) - at(self.config, 0.0)).total_seconds()

    def local_time(self, t_s: float) -> datetime:
        """Simulated second `t_s` as an aware datetime (UTC)."""
        return at(self.config, t_s)
