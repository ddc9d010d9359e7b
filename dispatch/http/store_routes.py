"""Store endpoints: registration (operator) and stock syncs (the store's POS or ERP)."""

from __future__ import annotations

from datetime import time

from aiohttp import web

from dispatch.access.tokens import Role
from dispatch.http import schemas as s
from dispatch.http.auth import require_role, require_store
from dispatch.http.openapi import Endpoint
from dispatch.http.problems import ApiError
from dispatch.http.times import iso
from dispatch.http.validation import MAX_QUANTITY, MAX_SKU_LENGTH, FieldReader, read_json_object
from dispatch.keys import CLOCK, METRICS, SERVICES
from stores.model import DAYS, OpeningWindow, StockChange, Store, SyncResult, parse_days

SNAPSHOT_MAX_BYTES = 32 * 1024 * 1024
DELTA_MAX_BYTES = 16 * 1024 * 1024
STORE_MAX_BYTES = 64 * 1024
MAX_SNAPSHOT_ITEMS = 200_000
MAX_DELTA_CHANGES = 100_000


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
    store_id = request.match_info["store_id"]
    if len(store_id) > 128 or not store_id.strip():
        raise ApiError("invalid", "store_id must be 1 to 128 characters", fields={"store_id": "bad length"})
    return store_id


def _opening_hours(body: FieldReader) -> tuple[OpeningWindow, ...] | None:
    raw = body.array("opening_hours", required=False, max_items=50)
    if raw is None:
        return None
    windows = []
    for i, entry in enumerate(raw):
        line = body.item("opening_hours", i, entry)
        if line is None:
            continue
        days_text = line.string("days", max_length=64)
        opens_text = line.string("open", max_length=5)
        closes_text = line.string("close", max_length=5)
        try:
            days = parse_days(days_text) if days_text else None
        except ValueError:
            line.fail("days", "must be like 'mon-fri', 'sat,sun' or 'daily'")
            days = None
        parsed = []
        for key, text in (("open", opens_text), ("close", closes_text)):
            try:
                parsed.append(time.fromisoformat(text) if text and len(text) == 5 else None)
            except ValueError:
                parsed.append(None)
            if text and parsed[-1] is None:
                line.fail(key, "must be HH:MM")
        opens, closes = parsed
        if days and opens is not None and closes is not None:
            windows.append(OpeningWindow(days, opens, closes))
    return tuple(windows)


async def put_store(request: web.Request) -> web.Response:
    """Register or update a store (idempotent)."""
    require_role(request, Role.OPERATOR)
    store_id = store_id_of(request)
    body = FieldReader(await read_json_object(request, max_bytes=STORE_MAX_BYTES))
    policy = request.app[SERVICES].policy
    name = body.string("name")
    location = body.location("location")
    zone = body.identifier("zone")
    pick = body.number(
        "pick_minutes",
        required=False,
        minimum=0,
        maximum=240,
        exclusive_minimum=True,
        default=policy.default_pick_minutes,
    )
    radius = body.number(
        "radius_minutes",
        required=False,
        minimum=0,
        maximum=120,
        exclusive_minimum=True,
        default=policy.default_radius_minutes,
    )
    hours = _opening_hours(body)
    body.done()
    assert name is not None and location is not None and zone is not None  # done() raised otherwise
    store = Store(store_id, name, location[0], location[1], zone, pick, radius, hours, 0)
    saved, created = await request.app[SERVICES].stores.register(store, now=request.app[CLOCK].now())
    return web.json_response(store_json(saved), status=201 if created else 200)


async def get_store(request: web.Request) -> web.Response:
    """A store's registration."""
    store_id = store_id_of(request)
    require_store(request, store_id, also=(Role.ORDER_SYSTEM,))
    store = await request.app[SERVICES].stores.repository.get_store(store_id)
    return web.json_response(store_json(store))


def _version(body: FieldReader) -> int | None:
    return body.integer("version", minimum=1, maximum=2**62)


def _sku(line: FieldReader) -> str | None:
    return line.string("sku", max_length=MAX_SKU_LENGTH)


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


def _done(body: FieldReader, request: web.Request, kind: str) -> None:
    if body.errors:
        request.app[METRICS].stock_syncs.labels(kind, "rejected").inc()
    body.done()


async def put_stock(request: web.Request) -> web.Response:
    """A full stock snapshot: on-hand becomes exactly these items; absent SKUs go to 0."""
    store_id = store_id_of(request)
    require_store(request, store_id)
    body = FieldReader(await _read_sync_body(request, "snapshot", SNAPSHOT_MAX_BYTES))
    version = _version(body)
    raw = body.array("items", max_items=MAX_SNAPSHOT_ITEMS)
    items: list[tuple[str, int]] = []
    seen: set[str] = set()
    if raw is not None:
        for i, entry in enumerate(raw):
            if len(body.errors) > 50:
                break
            # hot loop for 100k-SKU snapshots: check the common shape directly
            if type(entry) is dict and type(entry.get("sku")) is str and type(entry.get("quantity")) is int:
                sku, qty = entry["sku"], entry["quantity"]
                if (
                    sku.strip()
                    and len(sku) <= MAX_SKU_LENGTH
                    and 0 <= qty <= MAX_QUANTITY
                    and sku not in seen
                ):
                    seen.add(sku)
                    items.append((sku, qty))
                    continue
            line = body.item("items", i, entry)
            if line is None:
                continue
            sku = _sku(line)
            qty = line.integer("quantity", minimum=0, maximum=MAX_QUANTITY)
            if sku is not None and sku in seen:
                line.fail("sku", "appears twice in the snapshot")
    _done(body, request, "snapshot")
    assert version is not None  # done() raised otherwise
    result = await request.app[SERVICES].stores.replace_stock(
        store_id, version=version, items=items, now=request.app[CLOCK].now()
    )
    return web.json_response(_sync_json(result))


async def patch_stock(request: web.Request) -> web.Response:
    """Stock deltas (or absolute quantities), all or nothing."""
    store_id = store_id_of(request)
    require_store(request, store_id)
    body = FieldReader(await _read_sync_body(request, "delta", DELTA_MAX_BYTES))
    version = _version(body)
    raw = body.array("changes", max_items=MAX_DELTA_CHANGES)
    changes: list[StockChange] = []
    if raw is not None:
        for i, entry in enumerate(raw):
            if len(body.errors) > 50:
                break
            line = body.item("changes", i, entry)
            if line is None:
                continue
            sku = _sku(line)
            if line.has("delta") == line.has("quantity"):
                line.fail("delta", "give exactly one of delta or quantity")
                continue
            if line.has("delta"):
                delta = line.integer("delta", minimum=-MAX_QUANTITY, maximum=MAX_QUANTITY)
                if delta is not None and sku is not None:
                    changes.append(StockChange(sku, delta=delta))
            else:
                qty = line.integer("quantity", minimum=0, maximum=MAX_QUANTITY)
                if qty is not None and sku is not None:
                    changes.append(StockChange(sku, quantity=qty))
    _done(body, request, "delta")
    assert version is not None  # done() raised otherwise
    result = await request.app[SERVICES].stores.apply_changes(
        store_id, version=version, changes=changes, now=request.app[CLOCK].now()
    )
    return web.json_response(_sync_json(result))


async def get_stock(request: web.Request) -> web.Response:
    """Stock levels: the given SKUs, or a page of all (``after``, ``limit``)."""
    store_id = store_id_of(request)
    require_store(request, store_id, also=(Role.ORDER_SYSTEM,))
    skus = request.query.getall("sku", [])
    if len(skus) > 1000 or any(not x.strip() or len(x) > MAX_SKU_LENGTH for x in skus):
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
        request=s.STORE_PUT,
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
        request=s.STOCK_SNAPSHOT,
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
        request=s.STOCK_DELTA,
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
                "schema": {"type": "array", "items": {**s.SKU, "maxLength": 64}, "maxItems": 50},
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
