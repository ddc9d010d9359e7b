"""The demo's operator at the console: watches the ops summary and pulls a zone's overload lever.

A person, not the service: it reads only what `GET /v1/ops/summary` shows (each zone's on-time
share over the last 30 minutes, and the zone modes in force) and acts only through
`PUT /v1/zones/{zone}/mode`, like someone at the operators' console during a rainstorm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dispatch.orders.sla import OBJECTIVE
from dispatch.sim.api_client import ApiClient, Json

LOOK_EVERY_S = 300.0  # a glance at the console every five simulated minutes
MODE_FOR_S = 3600.0  # the mode the operator sets ends by itself after an hour (or is set again)


@dataclass(frozen=True, slots=True)
class Reading:
    """A zone's on-time share over the last 30 minutes, as the summary showed it."""

    at_s: float
    zone: str
    share: float


@dataclass(frozen=True, slots=True)
class Switch:
    """The operator switching a zone's ``on_overload`` (``lever`` None: it would have, but only watched)."""

    at_s: float
    zone: str
    share: float
    lever: str | None


@dataclass
class OpsConsole:
    """Switches a zone to ``on_overload: lever`` once its 30-minute on-time share is below the
    objective and the zone is not already in that mode. With ``lever`` None it only watches and
    notes the first moment it would have acted in each zone (the no-action run)."""

    api: ApiClient
    lever: str | None
    threshold: float = OBJECTIVE
    mode_for_s: float = MODE_FOR_S
    readings: list[Reading] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)

    async def look(self, *, now_s: float, until_iso: str) -> list[Switch]:
        """One glance: read the summary, switch every zone that needs it; returns the switches made."""
        status, summary = await self.api.call("GET", "/v1/ops/summary", self.api.operator)
        if status != 200:
            raise RuntimeError(f"ops summary answered {status}: {summary}")
        in_mode = {m["zone"]: m["on_overload"] for m in summary.get("zone_modes", [])}
        made = []
        for zone, figures in sorted(summary["zones"].items()):
            share = figures.get("on_time_share_30m")
            if share is None:
                continue
            self.readings.append(Reading(now_s, zone, share))
            if share >= self.threshold or not self._needs(zone, in_mode):
                continue
            if self.lever is not None:
                await self._switch(zone, share, until_iso)
            made.append(Switch(now_s, zone, share, self.lever))
        self.switches += made
        return made

    def _needs(self, zone: str, in_mode: dict[str, str]) -> bool:
        """Whether the zone still wants the lever pulled (a watcher notes each zone once)."""
        if self.lever is None:
            return all(s.zone != zone for s in self.switches)
        return in_mode.get(zone) != self.lever

    async def _switch(self, zone: str, share: float, until_iso: str) -> None:
        body: Json = {
            "on_overload": self.lever,
            "until": until_iso,
            "reason": f"on-time share over the last 30 min {share:.1%} (< {self.threshold:.0%})",
        }
        status, payload = await self.api.call("PUT", f"/v1/zones/{zone}/mode", self.api.operator, body)
        if status != 200:
            raise RuntimeError(f"zone mode for {zone}: {status} {payload}")
