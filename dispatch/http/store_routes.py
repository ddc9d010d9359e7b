"""Store endpoints: registration (operator) and stock syncs (the store's POS or ERP)."""

from __future__ import annotations

from datetime import time

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.clock import iso
from dispatch.http import bodies as b
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.fields import INVALID, Obj, path_id
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.validation import read_json_object
from dispatch.keys import CLOCK, METRICS, SERVICES
from stores.model import DAYS, OpeningWindow, StockChange, Store, SyncResult, parse_days

SNAPSHOT_MAX_BYTES = 32 * 1024 * 1024
DELTA_MAX_BYTES = 16 * 1024 * 1024
STORE_MAX_BYTES = 64 * 1024
MAX_SKUS_READ = 1000


def store_json(store: Store) -> dict:
    hours = None
    if store.opening_hours is not None:
        hours = [
            {
                "days": ",".join(DAYS[d] for d in sorted(w.days)),
                "open": w.opens.strftime("%H:%M"),
                "close": w.closes.strftime("%H:%M"),
            }
            for w in store.opening_hours
        ]
    return {
        "store_id": store.store_id,
        "name": store.name,
        "location": {"lat": store.lat, "lon": store.lon},
        "zone": store.zone,
        "pick_minutes": store.pick_minutes,
        "radius_minutes": store.radius_minutes,
        "opening_hours": hours,
        "stock_version": store.stock_version,
        "status": {
            "state": store.status.state,
            "extra_pick_minutes": store.status.extra_pick_minutes,
            "until": iso(store.status.until),
            "reason": store.status.reason,
            "since": iso(store.status.since),
        },
    }


def store_id_of(request: web.Request) -> str:
    return path_id(request.match_info, "store_id")


def _opening_hours(raw: list[dict] | None) -> tuple[OpeningWindow, ...] | None:
    if raw is None:
        return None
    # the declaration's patterns admit only what these parse
    return tuple(
        OpeningWindow(parse_days(w["days"]), time.fromisoformat(w["open"]), time.fromisoformat(w["close"]))
        for w in raw
    )


async def put_store(request: web.Request) -> web.Response:
    """Register or update a store (idempotent)."""
    require_role(request, Role.OPERATOR)
    store_id = store_id_of(request)
    body = b.STORE_PUT.parse(await read_json_object(request, max_bytes=STORE_MAX_BYTES))
    policy = request.app[SERVICES].policy
    pick = body["pick_minutes"] if body["pick_minutes"] is not None else policy.default_pick_minutes
    radius = body["radius_minutes"] if body["radius_minutes"] is not None else policy.default_radius_minutes
    where = body["location"]
    store = Store(
        store_id, body["name"], where["lat"], where["lon"], body["zone"], pick, radius,
        _opening_hours(body["opening_hours"]), 0,
    )
    saved, created = await request.app[SERVICES].stores.register(store, now=request.app[CLOCK].now())
    return web.json_response(store_json(saved), status=201 if created else 200)


async def get_store(request: web.Request) -> web.Response:
    """A store's registration."""
    store_id = store_id_of(request)
    require_store(request, store_id, also=(Role.ORDER_SYSTEM,))
    store = await request.app[SERVICES].stores.repository.get_store(store_id)
    return web.json_response(store_json(store))


def _sync_json(result: SyncResult) -> dict:
    return {
        "store_id": result.store_id,
        "version": result.version,
        "skus": result.skus,
        "shortfalls": [
            {"sku": x.sku, "on_hand": x.on_hand, "reserved": x.reserved} for x in result.shortfalls
        ],
    }


async def _read_sync_body(request: web.Request, kind: str, max_bytes: int) -> dict:
    try:
        return await read_json_object(request, max_bytes=max_bytes)
    except ApiError:
        request.app[METRICS].stock_syncs.labels(kind, "rejected").inc()
        raise


def _parse_sync(declaration: Obj, raw: dict, request: web.Request, kind: str) -> dict:
    try:
        return declaration.parse(raw)
    except ApiError:
        request.app[METRICS].stock_syncs.labels(kind, "rejected").inc()
        raise


async def put_stock(request: web.Request) -> web.Response:
    """A full stock snapshot: on-hand becomes exactly these items; absent SKUs go to 0."""
    store_id = store_id_of(request)
    require_store(request, store_id)
    raw = await _read_sync_body(request, "snapshot", SNAPSHOT_MAX_BYTES)
    body = _parse_sync(b.STOCK_SNAPSHOT, raw, request, "snapshot")
    items = [(line["sku"], line["quantity"]) for line in body["items"]]
    result = await request.app[SERVICES].stores.replace_stock(
        store_id, version=body["version"], items=items, now=request.app[CLOCK].now()
    )
    return web.json_response(_sync_json(result))


async def patch_stock(request: web.Request) -> web.Response:
    """Stock deltas (or absolute quantities), all or nothing."""
    store_id = store_id_of(request)
    require_store(request, store_id)
    raw = await _read_sync_body(request, "delta", DELTA_MAX_BYTES)
    body = _parse_sync(b.STOCK_DELTA, raw, request, "delta")
    changes = [
        StockChange(c["sku"], delta=c["delta"])
        if c["delta"] is not None
        else StockChange(c["sku"], quantity=c["quantity"])
        for c in body["changes"]
    ]
    result = await request.app[SERVICES].stores.apply_changes(
        store_id, version=body["version"], changes=changes, now=request.app[CLOCK].now()
    )
    return web.json_response(_sync_json(result))


async def get_stock(request: web.Request) -> web.Response:
    """Stock levels: the given SKUs, or a page of all (``after``, ``limit``)."""
    store_id = store_id_of(request)
    require_store(request, store_id, also=(Role.ORDER_SYSTEM,))
    skus = request.query.getall("sku", [])
    if len(skus) > MAX_SKUS_READ or any(b.SKU.read(x, "sku", {}) is INVALID for x in skus):
        raise ApiError("invalid", "give 1 to 1000 non-empty sku parameters", fields={"sku": "invalid"})
    try:
        limit = int(request.query.get("limit", "1000"))
    except ValueError:
        raise ApiError(
            "invalid", "limit must be an integer", fields={"limit": "must be an integer"}
        ) from None
    if not 1 <= limit <= 10_000:
        raise ApiError("invalid", "limit must be between 1 and 10000", fields={"limit": "out of range"})
    after = request.query.get("after")
    version, levels = await request.app[SERVICES].stores.repository.read_stock(
        store_id, skus=skus or None, after=after, limit=limit
    )
    next_after = levels[-1].sku if not skus and len(levels) == limit else None
    return web.json_response(
        {
            "version": version,
            "items": [
                {"sku": x.sku, "on_hand": x.on_hand, "reserved": x.reserved, "available": x.available}
                for x in levels
            ],
            "next_after": next_after,
        }
    )


_STORE_PATH = "/v1/stores/{store_id}"
ENDPOINTS = [
    Endpoint(
        "PUT",
        _STORE_PATH,
        put_store,
        "Register or update a store",
        "stores",
        roles=("operator",),
        request=b.STORE_PUT,
        responses={200: s.STORE, 201: s.STORE},
        errors=("out_of_area",),
    ),
    Endpoint(
        "GET",
        _STORE_PATH,
        get_store,
        "Read a store",
        "stores",
        roles=("operator", "store", "order_system"),
        responses={200: s.STORE},
        errors=("not_found",),
    ),
    Endpoint(
        "PUT",
        _STORE_PATH + "/stock",
        put_stock,
        "Full stock snapshot",
        "stock",
        roles=("operator", "store"),
        request=b.STOCK_SNAPSHOT,
        responses={200: s.SYNC_RESULT},
        errors=("not_found", "stale_version"),
    ),
    Endpoint(
        "PATCH",
        _STORE_PATH + "/stock",
        patch_stock,
        "Stock deltas",
        "stock",
        roles=("operator", "store"),
        request=b.STOCK_DELTA,
        responses={200: s.SYNC_RESULT},
        errors=("not_found", "stale_version", "negative_stock"),
    ),
    Endpoint(
        "GET",
        _STORE_PATH + "/stock",
        get_stock,
        "Read stock levels",
        "stock",
        roles=("operator", "store", "order_system"),
        responses={200: s.STOCK_LEVELS},
        errors=("not_found",),
        query=(
            {
                "name": "sku",
                "in": "query",
                "required": False,
                # the handler takes up to 1000, but a request line is at most 8 KiB (aiohttp)
                "schema": {"type": "array", "items": {**b.SKU.schema(), "maxLength": 64}, "maxItems": 50},
                "style": "form",
                "explode": True,
            },
            {"name": "after", "in": "query", "required": False, "schema": {"type": "string"}},
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": 10000},
            },
        ),
    ),
]
