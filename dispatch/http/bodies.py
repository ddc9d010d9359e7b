"""Every request body of the API, declared once: the handlers parse with these, /openapi.json shows them."""

from __future__ import annotations

from typing import Final

from dispatch.access.tokens import Role
from dispatch.http.fields import (
    WHITESPACE,
    Array,
    Case,
    Choice,
    Field,
    Flag,
    Integer,
    Number,
    Obj,
    Text,
    Timestamp,
    identifier,
    leg_identifier,
    location,
)
from dispatch.webhooks.address_guard import MAX_URL_LENGTH
from dispatch.webhooks.registry import EVENT_TYPES as WEBHOOK_EVENT_TYPES
from stores.model import DAYS

MAX_ID_LENGTH: Final = 128
MAX_SKU_LENGTH: Final = 128
MAX_QUANTITY: Final = 1_000_000_000
MAX_VERSION: Final = 2**62
MAX_ORDER_LINES: Final = 100
MAX_SNAPSHOT_ITEMS: Final = 200_000
MAX_DELTA_CHANGES: Final = 100_000
MAX_POSITIONS: Final = 1000
MAX_OPENING_WINDOWS: Final = 50
EVENT_TYPES: Final = ("arrived_store", "picked_up", "delivered", "rejected")

# a point on the bundled Shenzhen road network: the examples in the document are real requests
EXAMPLE_POINT: Final = {"lat": 22.5404918, "lon": 114.0303567}

_DAY = "(" + "|".join(DAYS) + ")"
_DAY_SPAN = f"{_DAY}(-{_DAY})?"
DAYS_PATTERN: Final = f"^(daily|all|{_DAY_SPAN}(,{_DAY_SPAN})*)$"
HH_MM: Final = "^([01][0-9]|2[0-3]):[0-5][0-9]$"

ID: Final = identifier(max_length=MAX_ID_LENGTH)
SKU: Final = Text(max_length=MAX_SKU_LENGTH, description="non-blank", example="milk-1l")
NAME: Final = Text(max_length=200, description="non-blank")
ZONE: Final = identifier(max_length=MAX_ID_LENGTH, description="an operations zone id", example="nanshan")
VERSION: Final = Integer(
    minimum=1, maximum=MAX_VERSION, description="strictly above the store's stored version"
)

OPENING_WINDOW: Final = Obj(
    (
        Field(
            "days",
            Text(
                max_length=64,
                pattern=DAYS_PATTERN,
                pattern_message="must be like 'mon-fri', 'sat,sun' or 'daily'",
                example="mon-fri",
            ),
        ),
        Field("open", Text(max_length=5, pattern=HH_MM, pattern_message="must be HH:MM", example="07:00")),
        Field("close", Text(max_length=5, pattern=HH_MM, pattern_message="must be HH:MM", example="23:00")),
    )
)
STORE_PUT: Final = Obj(
    (
        Field("name", NAME),
        Field("location", location(example=EXAMPLE_POINT)),
        Field("zone", ZONE),
        Field(
            "pick_minutes",
            Number(minimum=0, maximum=240, exclusive_minimum=True, description="default: the policy's"),
            required=False,
        ),
        Field(
            "radius_minutes",
            Number(minimum=0, maximum=120, exclusive_minimum=True, description="default: the policy's"),
            required=False,
        ),
        Field(
            "opening_hours",
            Array(
                OPENING_WINDOW,
                max_items=MAX_OPENING_WINDOWS,
                description="in the service's time zone; absent or null: always open",
            ),
            required=False,
        ),
    )
)

STOCK_SNAPSHOT: Final = Obj(
    (
        Field("version", VERSION),
        Field(
            "items",
            Array(
                Obj((Field("sku", SKU), Field("quantity", Integer(minimum=0, maximum=MAX_QUANTITY)))),
                max_items=MAX_SNAPSHOT_ITEMS,
                unique_by="sku",
                unique_message="appears twice in the snapshot",
                description="each sku at most once",
            ),
        ),
    )
)
STOCK_CHANGE: Final = Obj(
    (
        Field("sku", SKU),
        Field("delta", Integer(minimum=-MAX_QUANTITY, maximum=MAX_QUANTITY), required=False),
        Field("quantity", Integer(minimum=0, maximum=MAX_QUANTITY), required=False),
    ),
    cases=(Case(given=("delta",), absent=("quantity",)), Case(given=("quantity",), absent=("delta",))),
    case_field="delta",
    case_message="give exactly one of delta or quantity",
    description="a relative change (delta) or an absolute quantity, exactly one of them",
)
STOCK_DELTA: Final = Obj(
    (
        Field("version", VERSION),
        Field("changes", Array(STOCK_CHANGE, max_items=MAX_DELTA_CHANGES)),
    )
)

def sku_lines(count: str, *, minimum: int, where: str, description: str) -> Array:
    """An order's lines, or a pick result's: 1 to MAX_ORDER_LINES of {sku, <count>}, each SKU once."""
    return Array(
        Obj((Field("sku", SKU), Field(count, Integer(minimum=minimum, maximum=MAX_QUANTITY)))),
        max_items=MAX_ORDER_LINES,
        min_items=1,
        min_message="must have at least one line",
        unique_by="sku",
        unique_message=f"appears twice in the {where}",
        description=description,
    )


ORDER_POST: Final = Obj(
    (
        Field("order_id", identifier(max_length=MAX_ID_LENGTH, description="the idempotency key")),
        Field("items", sku_lines("quantity", minimum=1, where="order", description="each sku at most once")),
        Field("drop_off", location(example=EXAMPLE_POINT)),
        Field(
            "placed_at",
            Timestamp(
                description="when the customer ordered; default: the time of first receipt. Must lie within"
                " the service's window around its own clock (FLASHDISPATCH_PLACED_AT_MAX_AGE_S before,"
                " FLASHDISPATCH_PLACED_AT_MAX_AHEAD_S after)"
            ),
            required=False,
        ),
        Field(
            "on_short",
            Choice(
                ("resource", "drop_line", "cancel"),
                description="when a store's shelf holds less than it reserved: find the missing units at"
                " another store that still delivers by the promise (resource, the default; else the line"
                " is dropped), go on without them (drop_line), or cancel the order (cancel)",
            ),
            required=False,
        ),
        Field(
            "allow_split",
            Flag(
                description="when no single store has every line, place the order as two legs from two"
                " stores that both deliver by the promise (default false)"
            ),
            required=False,
        ),
    )
)

PICK_RESULT: Final = Obj(
    (
        Field(
            "lines",
            sku_lines(
                "picked",
                minimum=0,
                where="pick result",
                description="what the shelf gave for each line, each sku at most once; a line left out"
                " was picked in full",
            ),
        ),
    )
)

COURIER_PUT: Final = Obj(
    (
        Field("name", NAME),
        Field("zone", ZONE),
        Field(
            "capacity", Integer(minimum=1, maximum=20, description="default: the policy's"), required=False
        ),
    )
)
SHIFT: Final = Obj(
    (
        Field("state", Choice(("on", "off"))),
        Field("position", location(example=EXAMPLE_POINT)),
        Field(
            "ends_at",
            Timestamp(description="when going on shift: in the future", example="2099-12-31T23:00:00Z"),
            required=False,
        ),
    )
)
POSITION: Final = Obj(
    (
        Field("lat", Number(minimum=-90, maximum=90)),
        Field("lon", Number(minimum=-180, maximum=180)),
        Field("at", Timestamp(description="default: the time of receipt"), required=False),
    )
)
POSITIONS: Final = Obj(
    (
        Field(
            "positions",
            Array(
                POSITION, max_items=MAX_POSITIONS, min_items=1, min_message="must have at least one position"
            ),
        ),
    )
)
COURIER_EVENT: Final = Obj(
    (Field("order_id", leg_identifier(max_length=MAX_ID_LENGTH + 4)), Field("type", Choice(EVENT_TYPES)))
)

_UNSCOPED = tuple(r.value for r in Role if r not in (Role.STORE, Role.COURIER))
TOKEN_CREATE: Final = Obj(
    (
        Field("role", Choice(tuple(r.value for r in Role))),
        Field("store_id", ID, required=False),
        Field("courier_id", ID, required=False),
        Field("label", Text(max_length=200), required=False),
    ),
    cases=(
        Case(when={"role": (Role.STORE.value,)}, given=("store_id",), absent=("courier_id",)),
        Case(when={"role": (Role.COURIER.value,)}, given=("courier_id",), absent=("store_id",)),
        Case(when={"role": _UNSCOPED}, absent=("store_id", "courier_id")),
    ),
    case_field="role",
    case_message="a store token needs store_id, a courier token courier_id, and other roles neither",
)

# Operators and stores steer (DESIGN.md section 14) -------------------------------------------
MAX_REASON: Final = 500
MAX_EXTRA_PICK_MINUTES: Final = 120
MAX_AREA_POSITIONS: Final = 2000
REASON: Final = Text(max_length=MAX_REASON, description="why (kept in the audit trail)")
UNTIL: Final = Timestamp(
    description="when it ends by itself: after now and at most the policy's max_until_s ahead"
)
HOLD: Final = Obj((Field("reason", REASON), Field("until", UNTIL, required=False)))
RELEASE: Final = Obj((Field("reason", REASON),))
REASSIGN: Final = Obj(
    (
        Field("reason", REASON),
        Field("courier_id", identifier(description="absent or null: back to the pool"), required=False),
    )
)
STORE_STATUS: Final = Obj(
    (
        Field("status", Choice(("online", "busy", "paused"))),
        Field("reason", REASON),
        Field(
            "extra_pick_minutes",
            Number(minimum=0, maximum=MAX_EXTRA_PICK_MINUTES, description="only for busy"),
            required=False,
        ),
        Field("until", UNTIL, required=False),
    ),
    cases=(
        Case(when={"status": ("busy",)}),
        Case(when={"status": ("online", "paused")}, absent=("extra_pick_minutes",)),
    ),
    case_field="extra_pick_minutes",
    case_message="is only for a busy store",
)
LON_LAT: Final = Array(Number(minimum=-180, maximum=180), max_items=2, min_items=2)
RING: Final = Array(LON_LAT, max_items=MAX_AREA_POSITIONS, min_items=4)
POLYGON: Final = Obj(
    (
        Field("type", Choice(("Polygon",))),
        Field("coordinates", Array(RING, max_items=50, min_items=1)),
    ),
    description="a GeoJSON Polygon ([lon, lat] positions, closed rings); it must also be a valid polygon"
    " (no self-intersection), and hold at most 2000 positions in all",
)
ZONE_MODE: Final = Obj(
    (
        Field("reason", REASON),
        Field("radius_factor", Number(minimum=0.2, maximum=1.0), required=False, default=1.0),
        Field("promise_extension_minutes", Integer(minimum=0, maximum=60), required=False, default=0),
        Field("closed", Flag(), required=False, default=False),
        Field("closed_area", POLYGON, required=False),
        Field("on_overload", Choice(("accept", "extend", "refuse")), required=False, default="accept"),
        Field("until", UNTIL, required=False),
    )
)

# Webhooks (DESIGN.md section 13) ------------------------------------------------------------
# scheme http or https, a host (no credentials), then anything but NUL and whitespace
WEBHOOK_URL: Final = f"^[Hh][Tt][Tt][Pp]([Ss])?://[^/?#@{WHITESPACE}\\x00]+([/?#][^{WHITESPACE}\\x00]*)?$"
WEBHOOK_CREATE: Final = Obj(
    (
        Field(
            "url",
            Text(
                max_length=MAX_URL_LENGTH,
                pattern=WEBHOOK_URL,
                pattern_message="must be an http(s) URL with a host and no credentials",
                description="http(s); loopback, private and link-local hosts are refused (422) unless the"
                " service allows them, and so is a URL Python's parser cannot read (a bad port)",
                example="https://orders.example.com/flashdispatch",
            ),
        ),
        Field(
            "event_types",
            Array(Choice(WEBHOOK_EVENT_TYPES), max_items=len(WEBHOOK_EVENT_TYPES)),
            required=False,
        ),
    )
)
