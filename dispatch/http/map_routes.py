"""The operators' map data: the road network as GeoJSON, the city's snapshot, and its live stream."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import schemas as s
from dispatch.http.auth import require_role
from dispatch.http.openapi import Endpoint
from dispatch.keys import CLOCK, MAP_STATE, REQUEST_ID, SERVICES
from dispatch.postgres.database import CONNECTION_ERRORS
from geo.geojson import network_geojson
from geo.network import RoadNetwork

#: How often a stream reads the snapshot; a change reaches the page at most this late (+ the read).
STREAM_INTERVAL_S = 1.0
#: A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_S = 15.0
#: Keys that change every read without anything happening; a change of them alone is not sent.
_VOLATILE = ("at", "position_age_s")


@dataclass(frozen=True, slots=True)
class RoadLayer:
    """The network's GeoJSON, encoded once: plain and gzip bytes, and an ETag."""

    body: bytes
    gzipped: bytes
    etag: str


class MapState:
    """Per-app state of the map endpoints: the road layer built once, and the streams' stop signal."""

    def __init__(self) -> None:
        self.closing = asyncio.Event()
        self._roads: RoadLayer | None = None
        self._lock = asyncio.Lock()

    async def roads(self, network: RoadNetwork) -> RoadLayer:
        async with self._lock:
            if self._roads is None:
                self._roads = await asyncio.to_thread(_encode_roads, network)
            return self._roads


def _encode_roads(network: RoadNetwork) -> RoadLayer:
    body = json.dumps(network_geojson(network), separators=(",", ":")).encode()
    return RoadLayer(body, gzip.compress(body, 6), '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


async def stop_streams(app: web.Application) -> None:
    """on_shutdown: every open stream ends now rather than holding the shutdown up."""
    app[MAP_STATE].closing.set()


async def ops_roads(request: web.Request) -> web.Response:
    """The road network as GeoJSON (built once per process; gzip when the client takes it)."""
    require_role(request, Role.OPERATOR)
    layer = await request.app[MAP_STATE].roads(request.app[SERVICES].keeper.network)
    headers = {"ETag": layer.etag, "Vary": "Accept-Encoding", "Cache-Control": "private, max-age=3600"}
    if request.headers.get("If-None-Match") == layer.etag:
        return web.Response(status=304, headers=headers)
    if "gzip" in request.headers.get("Accept-Encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=layer.gzipped, content_type="application/json", headers=headers)
    return web.Response(body=layer.body, content_type="application/json", headers=headers)


async def ops_snapshot(request: web.Request) -> web.Response:
    """Stores, couriers with their routes, open orders with the at-risk flag, zone modes."""
    require_role(request, Role.OPERATOR)
    snapshot = await request.app[SERVICES].map.snapshot(now=request.app[CLOCK].now())
    return web.json_response(snapshot, headers={"Cache-Control": "no-store"})


def snapshot_fingerprint(snapshot: dict[str, Any]) -> str:
    """A digest of what the snapshot says, leaving out what only the clock moved."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in _VOLATILE}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return hashlib.sha256(json.dumps(strip(snapshot), sort_keys=True).encode()).hexdigest()[:16]


def sse_message(event: str, event_id: str, data: dict[str, Any]) -> bytes:
    return f"id: {event_id}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _is_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def ops_stream(request: web.Request) -> web.StreamResponse:
    """Server-Sent Events: the snapshot when it changed, read every second; a full one first."""
    require_role(request, Role.OPERATOR)
    state, services, clock = request.app[MAP_STATE], request.app[SERVICES], request.app[CLOCK]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no",
                 "X-Request-Id": request[REQUEST_ID]}
    )  # fmt: skip
    await response.prepare(request)
    last, quiet, sent = "", 0.0, 0
    with contextlib.suppress(ConnectionResetError):
        await response.write(b"retry: 2000\n\n")
        while not state.closing.is_set() and not _is_gone(request):
            try:
                snapshot = await services.map.snapshot(now=clock.now())
            except CONNECTION_ERRORS:  # the headers are sent: say so in a comment, try again
                snapshot = None
            digest = snapshot_fingerprint(snapshot) if snapshot is not None else last
            if snapshot is None:
                await response.write(b": database unavailable\n\n")
            elif digest != last:
                sent += 1
                await response.write(sse_message("snapshot", f"{sent}-{digest}", snapshot))
                last, quiet = digest, 0.0
            elif quiet >= HEARTBEAT_S:
                await response.write(b": keep-alive\n\n")
                quiet = 0.0
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STREAM_INTERVAL_S):
                    await state.closing.wait()
            quiet += STREAM_INTERVAL_S
    return response


POSITION = {**s.LAT_LON, "nullable": True}
LINE = {
    "type": "object", "nullable": True,
    "properties": {"type": {"type": "string"}, "coordinates": {"type": "array"}},
}  # fmt: skip
SNAPSHOT = s.obj(
    ["at", "stores", "couriers", "orders", "zone_modes"],
    {
        "at": s.TIMESTAMP,
        "stores": s.array(s.obj(["store_id", "zone", "status", "position"], {
            "store_id": s.ID, "name": {"type": "string"}, "zone": {"type": "string"},
            "status": {"type": "string"}, "position": s.LAT_LON,
        })),
        "couriers": s.array(s.obj(["courier_id", "state", "position", "position_age_s", "route"], {
            "courier_id": s.ID, "zone": {"type": "string"},
            "state": {"type": "string", "enum": ["off", "idle", "busy"]},
            "position": POSITION, "position_at": s.NULLABLE_TIMESTAMP,
            "position_age_s": {"type": "number", "nullable": True}, "route": LINE,
        })),
        "orders": s.array(s.obj(["order_id", "status", "zone", "store_id", "at_risk", "drop_off"], {
            "order_id": s.ID, "status": {"type": "string"}, "zone": {"type": "string"}, "store_id": s.ID,
            "courier_id": {"type": "string", "nullable": True}, "drop_off": POSITION,
            "promised_by": s.TIMESTAMP, "predicted_delivery_at": s.TIMESTAMP, "at_risk": {"type": "boolean"},
        })),
        "zone_modes": s.array({"type": "object"}),
    },
)  # fmt: skip
ROADS = s.obj(
    ["type", "features", "edges", "thinned"],
    {"type": {"type": "string", "enum": ["FeatureCollection"]}, "features": s.array({"type": "object"}),
     "edges": {"type": "integer"}, "thinned": {"type": "boolean"}},
)  # fmt: skip
ENDPOINTS = [
    Endpoint("GET", "/v1/ops/roads", ops_roads, "The road network as GeoJSON", "ops",
             roles=("operator",), responses={200: ROADS}),
    Endpoint("GET", "/v1/ops/snapshot", ops_snapshot, "The city now: stores, couriers, open orders, zones",
             "ops", roles=("operator",), responses={200: SNAPSHOT}),
    Endpoint("GET", "/v1/ops/stream", ops_stream, "The snapshot as Server-Sent Events, when it changes",
             "ops", roles=("operator",), responses={200: {"type": "string"}}, media="text/event-stream"),
]  # fmt: skip
