"""JSON schemas of the API's response bodies (documented in /openapi.json); requests: ``bodies``."""

from __future__ import annotations

from dispatch.orders.lifecycle import ActorType
from stores.model import STORE_STATES

ID = {"type": "string", "minLength": 1, "maxLength": 128}
SKU = {"type": "string", "minLength": 1, "maxLength": 128}
TIMESTAMP = {"type": "string", "format": "date-time"}
NULLABLE_TIMESTAMP = {"type": "string", "format": "date-time", "nullable": True}
LAT_LON: dict = {
    "type": "object",
    "required": ["lat", "lon"],
    "properties": {
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "lon": {"type": "number", "minimum": -180, "maximum": 180},
    },
}


def obj(required: list[str], properties: dict, *, additional: bool = True) -> dict:
    return {
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": additional,
    }


def array(items: dict, max_items: int | None = None) -> dict:
    schema: dict = {"type": "array", "items": items}
    if max_items is not None:
        schema["maxItems"] = max_items
    return schema


STATUS_OK = obj(["status"], {"status": {"type": "string"}})
READY = obj(["status", "checks"], {"status": {"type": "string"}, "checks": {"type": "object"}})

TOKEN = obj(
    ["token_id", "role"],
    {
        "token_id": {"type": "string"},
        "role": {"type": "string"},
        "store_id": {"type": "string", "nullable": True},
        "courier_id": {"type": "string", "nullable": True},
        "label": {"type": "string", "nullable": True},
        "created_at": TIMESTAMP,
        "revoked_at": NULLABLE_TIMESTAMP,
    },
)
TOKEN_CREATED = obj(["token", "token_id", "role"], {**TOKEN["properties"], "token": {"type": "string"}})
TOKEN_LIST = obj(["tokens"], {"tokens": array(TOKEN)})

STORE = obj(
    ["store_id", "name", "location", "zone", "pick_minutes", "radius_minutes", "stock_version"],
    {
        "store_id": ID,
        "name": {"type": "string"},
        "location": LAT_LON,
        "zone": {"type": "string"},
        "pick_minutes": {"type": "number"},
        "radius_minutes": {"type": "number"},
        "opening_hours": {"type": "array", "nullable": True, "items": {"type": "object"}},
        "stock_version": {"type": "integer"},
        "status": obj(
            ["state", "extra_pick_minutes", "until", "reason", "since"],
            {
                "state": {"type": "string", "enum": list(STORE_STATES)},
                "extra_pick_minutes": {"type": "number"},
                "until": NULLABLE_TIMESTAMP,
                "reason": {"type": "string", "nullable": True},
                "since": NULLABLE_TIMESTAMP,
            },
        ),
    },
)
SYNC_RESULT = obj(
    ["store_id", "version", "skus"],
    {
        "store_id": ID,
        "version": {"type": "integer"},
        "skus": {"type": "integer"},
        "shortfalls": array(
            obj(
                ["sku", "on_hand", "reserved"],
                {"sku": SKU, "on_hand": {"type": "integer"}, "reserved": {"type": "integer"}},
            )
        ),
    },
)
STOCK_LEVELS = obj(
    ["version", "items"],
    {
        "version": {"type": "integer"},
        "items": array(
            obj(
                ["sku", "on_hand", "reserved", "available"],
                {
                    "sku": SKU,
                    "on_hand": {"type": "integer"},
                    "reserved": {"type": "integer"},
                    "available": {"type": "integer"},
                },
            )
        ),
        "next_after": {"type": "string", "nullable": True},
    },
)

ACTOR = obj(
    ["type", "id"],
    {
        "type": {"type": "string", "enum": [a.value for a in ActorType]},
        "id": {"type": "string", "nullable": True},
    },
)
EVENT = obj(
    ["event_id", "order_id", "sequence", "type", "occurred_at", "actor", "reason", "data"],
    {
        "event_id": {"type": "string"},
        "order_id": ID,
        "sequence": {"type": "integer", "minimum": 1},
        "type": {"type": "string"},
        "occurred_at": TIMESTAMP,
        "actor": ACTOR,
        "reason": {"type": "string", "nullable": True},
        "data": {"type": "object"},
    },
)
EVENT_PAGE = obj(["events", "next"], {"events": array(EVENT), "next": {"type": "string"}})

