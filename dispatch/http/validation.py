"""Request validation: JSON bodies into plain values, or a 4xx naming every bad field."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, overload

from aiohttp import web

from dispatch.http.problems import ApiError

MAX_ID_LENGTH = 128
MAX_SKU_LENGTH = 128
MAX_QUANTITY = 1_000_000_000


async def read_json_object(request: web.Request, *, max_bytes: int) -> dict:
    """The body as a JSON object: 413 past ``max_bytes``, 400 when not UTF-8 JSON or not an object."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
    raw = bytearray()
    async for chunk in request.content.iter_chunked(1 << 16):
        raw.extend(chunk)
        if len(raw) > max_bytes:
            raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError("malformed_json", "the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise ApiError("malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("malformed_json", "the body must be a JSON object")
    return body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


class FieldReader:
    """Reads typed fields from a JSON object, collecting every problem before failing once."""

    def __init__(self, body: dict, prefix: str = "") -> None:
        self.body = body
        self.prefix = prefix
        self.errors: dict[str, str] = {}

    def _name(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(self._name(key), message)

    def has(self, key: str) -> bool:
        return key in self.body and self.body[key] is not None

    def _within(
        self, key: str, value: float, minimum: float | None, maximum: float | None, *, exclusive_minimum: bool
    ) -> bool:
        """Check the bounds of a number, recording why it is out of them."""
        if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
            self.fail(key, f"must be {'above' if exclusive_minimum else 'at least'} {minimum}")
            return False
        if maximum is not None and value > maximum:
            self.fail(key, f"must be at most {maximum}")
            return False
        return True

    def string(
        self, key: str, *, required: bool = True, max_length: int = 200, default: str | None = None
    ) -> str | None:
        if not self.has(key):
            if required:
                self.fail(key, "is required")
            return default
        value = self.body[key]
        if not isinstance(value, str):
            self.fail(key, "must be a string")
            return default
        if not value.strip():
            self.fail(key, "must not be empty")
            return default
        if len(value) > max_length:
            self.fail(key, f"must be at most {max_length} characters")
            return default
        return value

    def identifier(self, key: str, *, required: bool = True) -> str | None:
        value = self.string(key, required=required, max_length=MAX_ID_LENGTH)
        if value is not None and any(c.isspace() or c == "/" for c in value):
            self.fail(key, "must not contain whitespace or '/'")
            return None
        return value

    def integer(
        self,
        key: str,
        *,
        required: bool = True,
        minimum: int | None = None,
        maximum: int | None = None,
        default: int | None = None,
    ) -> int | None:
        if not self.has(key):
            if required:
                self.fail(key, "is required")
            return default
        value = self.body[key]
        if not _is_int(value):
            self.fail(key, "must be an integer")
            return default
        if not self._within(key, value, minimum, maximum, exclusive_minimum=False):
            return default
        return value

    @overload
    def number(
        self,
        key: str,
        *,
        required: bool = ...,
        minimum: float | None = ...,
        maximum: float | None = ...,
        exclusive_minimum: bool = ...,
        default: float,
    ) -> float: ...

    @overload
    def number(
        self,
        key: str,
        *,
        required: bool = ...,
        minimum: float | None = ...,
        maximum: float | None = ...,
        exclusive_minimum: bool = ...,
        default: None = ...,
    ) -> float | None: ...

    def number(
        self,
        key: str,
        *,
        required: bool = True,
        minimum: float | None = None,
        maximum: float | None = None,
        exclusive_minimum: bool = False,
        default: float | None = None,
    ) -> float | None:
        if not self.has(key):
            if required:
                self.fail(key, "is required")
            return default
        value = self.body[key]
        if not _is_number(value):
            self.fail(key, "must be a number")
            return default
        if not self._within(key, value, minimum, maximum, exclusive_minimum=exclusive_minimum):
            return default
        return float(value)

    def choice(self, key: str, options: Iterable[str], *, required: bool = True) -> str | None:
        allowed = list(options)
        value = self.string(key, required=required, max_length=64)
        if value is not None and value not in allowed:
            self.fail(key, f"must be one of {', '.join(allowed)}")
            return None
        return value

    def obj(self, key: str, *, required: bool = True) -> FieldReader | None:
        if not self.has(key):
            if required:
                self.fail(key, "is required")
            return None
        value = self.body[key]
        if not isinstance(value, dict):
            self.fail(key, "must be an object")
            return None
        child = FieldReader(value, prefix=self._name(key) + ".")
        child.errors = self.errors
        return child

    def array(self, key: str, *, required: bool = True, max_items: int = 1000) -> list | None:
        if not self.has(key):
            if required:
                self.fail(key, "is required")
            return None
        value = self.body[key]
        if not isinstance(value, list):
            self.fail(key, "must be an array")
            return None
        if len(value) > max_items:
            self.fail(key, f"must have at most {max_items} items")
            return None
        return value

    def item(self, key: str, index: int, value: Any) -> FieldReader | None:
        if not isinstance(value, dict):
            self.errors.setdefault(f"{self._name(key)}[{index}]", "must be an object")
            return None
        child = FieldReader(value, prefix=f"{self._name(key)}[{index}].")
        child.errors = self.errors
        return child

    def location(self, key: str, *, required: bool = True) -> tuple[float, float] | None:
        child = self.obj(key, required=required)
        if child is None:
            return None
        lat = child.number("lat", minimum=-90, maximum=90)
        lon = child.number("lon", minimum=-180, maximum=180)
        if lat is None or lon is None:
            return None
        return lat, lon

    def timestamp(self, key: str, *, required: bool = True) -> datetime | None:
        value = self.string(key, required=required, max_length=64)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            self.fail(key, "must be an ISO 8601 timestamp")
            return None
        if moment.tzinfo is None:
            self.fail(key, "must carry a time zone (e.g. 2026-01-01T12:00:00Z)")
            return None
        return moment.astimezone(UTC)

    def done(self) -> None:
        if self.errors:
            raise ApiError(
                "invalid",
                "the request has invalid fields: "
                + "; ".join(f"{k} {v}" for k, v in list(self.errors.items())[:10]),
                fields=self.errors,
            )
