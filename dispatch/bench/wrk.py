"""Debian's ``wrk`` as the load generator for order intake (a Lua script makes unique orders)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from dispatch.bench.city import BenchCity

_SCRIPT = r"""
local points = {%(points)s}
local skus = {%(skus)s}
local token = "%(token)s"
local prefix = "%(run_id)s"
local threads = {}
counter = 0
errors = 0
me = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  me = id
  math.randomseed(%(seed)d * 7919 + me)
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local n = math.random(1, %(max_lines)d)
  local first = math.random(1, #skus - n + 1)
  local items = {}
  for i = 0, n - 1 do
    items[#items + 1] = string.format('{"sku":"%%s","quantity":1}', skus[first + i])
  end
  local p = points[math.random(1, #points)]
  local body = string.format('{"order_id":"%%s-%%d-%%d","items":[%%s],"drop_off":{"lat":%%.7f,"lon":%%.7f}}',
    prefix, me, counter, table.concat(items, ","), p[1], p[2])
  return wrk.format("POST", "/v1/orders", nil, body)
end

function response(status, headers, body)
  if status ~= %(ok)d then errors = errors + 1 end
end

function done(summary, latency, requests)
  local errs = 0
  for _, t in ipairs(threads) do
    errs = errs + t:get("errors")
  end
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"p50_us":%%d,"p99_us":%%d,"mean_us":%%.1f,"errors":%%d,'
    .. '"connect_errors":%%d,"read_errors":%%d,"write_errors":%%d,"timeouts":%%d,"status_errors":%%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    errs, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    summary.errors.status))
end
"""


@dataclass(frozen=True, slots=True)
class WrkFigures:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass(frozen=True, slots=True)
class WrkOrders:
    """What the Lua script posts: unique orders to the city's drop-offs, and the expected status."""

    city: BenchCity
    token: str
    run_id: str  # prefix of the order ids, unique per run and phase
    max_lines: int = 3
    seed: int = 1
    ok_status: int = 201

    def script(self) -> str:
        """The Lua script with this run's drop-offs, SKUs, token and ids filled in."""
        points = ",".join(f"{{{lat:.7f},{lon:.7f}}}" for lat, lon in self.city.drop_points)
        skus = ",".join(f'"{s}"' for s in self.city.skus)
        return _SCRIPT % {
            "points": points,
            "skus": skus,
            "token": self.token,
            "run_id": self.run_id,
            "seed": self.seed,
            "max_lines": max(1, min(self.max_lines, len(self.city.skus))),
            "ok": self.ok_status,
        }


def run_wrk_orders(
    base_url: str,
    orders: WrkOrders,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
) -> WrkFigures:
    """POST unique orders with wrk for ``seconds`` (blocking: call through ``asyncio.to_thread``)."""
    script = orders.script()
    parts = urlsplit(base_url)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "orders.lua"
        path.write_text(script)
        completed = subprocess.run(
            [wrk_path() or "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
             "--timeout", "10s", "-s", str(path), f"{parts.scheme}://{parts.netloc}/"],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    line = next((x for x in completed.stdout.splitlines() if x.startswith("WRKJSON ")), None)
    if completed.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr or completed.stdout}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    duration_s = raw["duration_us"] / 1e6
    socket_errors = raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] + raw["timeouts"]
    return WrkFigures(
        requests=raw["requests"],
        seconds=duration_s,
        rps=raw["requests"] / duration_s if duration_s else 0.0,
        p50_ms=raw["p50_us"] / 1000.0,
        p99_ms=raw["p99_us"] / 1000.0,
        errors=raw["errors"] + socket_errors,
    )
