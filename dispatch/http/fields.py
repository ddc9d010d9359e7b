"""Request bodies declared once: each rule gives both its JSON schema (OpenAPI) and its check.

A body is an :class:`Obj` of :class:`Field` s; every rule (``Text``, ``Integer``, ``Number``,
``Timestamp``, ``Choice``, ``Obj``, ``Array``) answers ``schema()`` — the fragment served in
``/openapi.json`` — and ``read(value, at, errors)`` — the parsed value, or ``INVALID`` after
recording why under the field's dotted name. Both come from the same attributes, so the
document and the handler cannot disagree about a bound, a pattern or a required key.

Patterns are written for both engines: explicit character classes (never ``\\s``, which Python and
ECMA-262 read differently) and a final ``$`` that the check reads as end of text, as ECMA does.
Rules no JSON schema can state (a SKU at most once per list, a time relative to the service's
clock) are named in the field's ``description`` and checked by the handler after ``parse``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any, Final, Protocol

from dispatch.http.problems import ApiError

# Whitespace as either engine may read it: ECMA-262 \s ∪ Python str.isspace().
WHITESPACE: Final = (
    "\\t\\n\\x0b\\x0c\\r \\x1c-\\x1f\\x85\\xa0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
# PostgreSQL text cannot hold NUL: no string the API stores may contain one
NOT_BLANK: Final = f"^[^\\x00]*[^{WHITESPACE}\\x00][^\\x00]*$"  # not only whitespace, no NUL
ID_PATTERN: Final = f"^[^/{WHITESPACE}\\x00]+$"  # no whitespace, no '/', no NUL
# a leg of an order as couriers see it: the order's id, or "<order_id>/<n>" for a further leg
LEG_ID_PATTERN: Final = f"^[^/{WHITESPACE}\\x00]+(/[1-9][0-9]{{0,2}})?$"
# RFC 3339 date-time, each part within its range, years 1900-2999 (no year 0, no leap second, no
# overflow when moved to UTC): what the JSON schema's format admits, Python can represent
RFC3339: Final = (
    "^((19|2[0-9])[0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):([0-5][0-9])"
    ":([0-5][0-9])(\\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$"
)
MAX_ERRORS = 50  # a body with more bad fields is reported by its first fifty
NOT_A_TIMESTAMP: Final = "must be an RFC 3339 timestamp with a time zone (e.g. 2026-01-01T12:00:00Z)"


class _Invalid:
    __slots__ = ()

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()
NULL_ONLY: Final = {"nullable": True, "enum": [None]}


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    """The pattern as JSON Schema means it: searched, with a final ``$`` anchoring the end of text."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + "\\Z"
    return re.compile(pattern)


def matches(pattern: str, value: str) -> bool:
    return _compiled(pattern).search(value) is not None


def _is_unicode(value: str) -> bool:
    """Encodable as UTF-8: JSON may escape a lone surrogate (``"\\udc00"``), no database can store it.

    Not in the schema: JSON Schema validates Unicode strings, which cannot hold one.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def _fail(errors: dict[str, str], at: str, message: str) -> _Invalid:
    errors.setdefault(at, message)
    return INVALID


class Rule(Protocol):
    """What every field rule answers: its JSON schema and its check."""

    def schema(self) -> dict: ...

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any: ...


def _decorate(schema: dict, description: str | None, example: Any) -> dict:
    if description:
        schema["description"] = description
    if example is not None:
        schema["example"] = example
    return schema


@dataclass(frozen=True, slots=True)
class Text:
    """A non-empty string of at most ``max_length`` characters matching ``pattern``."""

    max_length: int = 200
    pattern: str = NOT_BLANK
    pattern_message: str = "must not be empty"
    description: str | None = None
    example: str | None = None

    def schema(self) -> dict:
        schema = {"type": "string", "minLength": 1, "maxLength": self.max_length, "pattern": self.pattern}
        return _decorate(schema, self.description, self.example)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, str):
            return _fail(errors, at, "must be a string")
        if not value:
            return _fail(errors, at, "must not be empty")
        if len(value) > self.max_length:
            return _fail(errors, at, f"must be at most {self.max_length} characters")
        if not matches(self.pattern, value):
            return _fail(errors, at, "must not contain NUL" if "\x00" in value else self.pattern_message)
        if not _is_unicode(value):
            return _fail(errors, at, "must be Unicode text (no lone surrogate escapes)")
        return value


def identifier(*, max_length: int = 128, description: str | None = None, example: str | None = None) -> Text:
    """An id: 1 to ``max_length`` characters, no whitespace, no '/'."""
    return Text(
        max_length=max_length,
        pattern=ID_PATTERN,
        pattern_message="must not contain whitespace or '/'",
        description=description,
        example=example,
    )


def leg_identifier(*, max_length: int) -> Text:
    """An order's id, or one of its legs' ("<order_id>/<n>")."""
    return Text(
        max_length=max_length,
        pattern=LEG_ID_PATTERN,
        pattern_message="must be an order id (no whitespace or '/') or a leg's, '<order_id>/<n>'",
    )


@dataclass(frozen=True, slots=True)
class Choice:
    """One of a fixed set of strings."""

    options: tuple[str, ...]
    description: str | None = None

    def schema(self) -> dict:
        return _decorate({"type": "string", "enum": list(self.options)}, self.description, None)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, str):
            return _fail(errors, at, "must be a string")
        if value not in self.options:
            return _fail(errors, at, f"must be one of {', '.join(self.options)}")
        return value


@dataclass(frozen=True, slots=True)
class Flag:
    """A JSON boolean (not 0 or 1)."""

    description: str | None = None

    def schema(self) -> dict:
        return _decorate({"type": "boolean"}, self.description, None)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, bool):
            return _fail(errors, at, "must be true or false")
        return value


@dataclass(frozen=True, slots=True)
class Integer:
    """A JSON integer (not a boolean, not 1.0) within the bounds."""

    minimum: int | None = None
    maximum: int | None = None
    description: str | None = None
    example: int | None = None

    def schema(self) -> dict:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return _decorate(schema, self.description, self.example)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not _is_int(value):
            return _fail(errors, at, "must be an integer")
        if self.minimum is not None and value < self.minimum:
            return _fail(errors, at, f"must be at least {self.minimum}")
        if self.maximum is not None and value > self.maximum:
            return _fail(errors, at, f"must be at most {self.maximum}")
        return value


@dataclass(frozen=True, slots=True)
class Number:
    """A finite JSON number within the bounds (the minimum exclusive when asked)."""

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    description: str | None = None
    example: float | None = None

    def schema(self) -> dict:
        schema: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
            if self.exclusive_minimum:
                schema["exclusiveMinimum"] = True  # OpenAPI 3.0: a flag on minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return _decorate(schema, self.description, self.example)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not _is_number(value):
            return _fail(errors, at, "must be a number")
        low = self.minimum
        if low is not None and (value <= low if self.exclusive_minimum else value < low):
            return _fail(errors, at, f"must be {'above' if self.exclusive_minimum else 'at least'} {low}")
        if self.maximum is not None and value > self.maximum:
            return _fail(errors, at, f"must be at most {self.maximum}")
        return float(value)


@dataclass(frozen=True, slots=True)
class Timestamp:
    """An RFC 3339 date-time with a time zone (years 1900-2999), read as an aware UTC datetime."""

    description: str | None = None
    example: str | None = None

    def schema(self) -> dict:
        schema = {"type": "string", "format": "date-time", "pattern": RFC3339}
        return _decorate(schema, self.description, self.example)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, str):
            return _fail(errors, at, "must be a string")
        match = _compiled(RFC3339).search(value)
        if match is None:
            return _fail(errors, at, NOT_A_TIMESTAMP)
        year, _, month, day, hour, minute, second, fraction, zone, _ = match.groups()
        offset = timedelta(0)
        if zone not in ("Z", "z"):
            sign = -1 if zone[0] == "-" else 1
            offset = sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        try:
            moment = datetime(
                int(year), int(month), int(day), int(hour), int(minute), int(second),
                int((fraction or ".0")[1:7].ljust(6, "0")), tzinfo=timezone(offset),
            )
        except ValueError:  # a day past the month's end (2026-02-30): the format refuses it too
            return _fail(errors, at, NOT_A_TIMESTAMP)
        return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Field:
    """A named member of an object: its rule, whether it must be there, what an absent one reads as.

    An optional field may also be ``null``, which reads as absent.
    """

    name: str
    rule: Rule
    required: bool = True
    default: Any = None


@dataclass(frozen=True, slots=True)
class Case:
    """One allowed combination of fields: ``when`` values, fields that must be given, fields that must not."""

    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    given: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def applies(self, body: Mapping[str, Any]) -> bool:
        return (
            all(body.get(k) in v for k, v in self.when.items())
            and all(body.get(k) is not None for k in self.given)
            and all(body.get(k) is None for k in self.absent)
        )


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object of declared fields (others are ignored); with ``cases``, exactly one must apply."""

    fields: tuple[Field, ...]
    cases: tuple[Case, ...] = ()
    case_field: str = ""
    case_message: str = ""
    description: str | None = None
    example: dict | None = None

    def member(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)

    def schema(self) -> dict:
        properties = {}
        for f in self.fields:
            fragment = f.rule.schema()
            if not f.required:  # optional: null reads as absent (OpenAPI 3.0: an enum must list null too)
                fragment = {**fragment, "nullable": True}
                if "enum" in fragment:
                    fragment["enum"] = [*fragment["enum"], None]
            properties[f.name] = fragment
        schema: dict[str, Any] = {
            "type": "object",
            "required": [f.name for f in self.fields if f.required],
            "properties": properties,
            "additionalProperties": True,
        }
        if self.cases:
            schema["oneOf"] = [self._case_schema(case) for case in self.cases]
        return _decorate(schema, self.description, self.example)

    def _case_schema(self, case: Case) -> dict:
        properties: dict[str, Any] = {k: {"type": "string", "enum": list(v)} for k, v in case.when.items()}
        for name in case.given:
            properties[name] = {"type": self.member(name).rule.schema()["type"]}
        for name in case.absent:
            properties[name] = NULL_ONLY
        return {"required": [*case.when, *case.given], "properties": properties}

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, dict):
            return _fail(errors, at, "must be an object")
        prefix = f"{at}." if at else ""
        out: dict[str, Any] = {}
        ok = True
        for f in self.fields:
            raw = value.get(f.name)
            if raw is None:
                if f.required:
                    _fail(errors, prefix + f.name, "is required")
                    ok = False
                out[f.name] = f.default
                continue
            parsed = f.rule.read(raw, prefix + f.name, errors)
            if parsed is INVALID:
                ok = False
            out[f.name] = parsed
        if ok and self.cases and sum(case.applies(value) for case in self.cases) != 1:
            _fail(errors, prefix + self.case_field, self.case_message)
            ok = False
        return out if ok else INVALID

    def parse(self, body: dict) -> dict[str, Any]:
        """The body's values, or 422 ``invalid`` naming every bad field."""
        errors: dict[str, str] = {}
        values = self.read(body, "", errors)
        raise_if_invalid(errors)
        assert values is not INVALID  # every INVALID path recorded an error
        return values


@dataclass(frozen=True, slots=True)
class Array:
    """A JSON array of ``items``, ``min_items`` to ``max_items`` long; with ``unique_by``, that member
    of each item appears once (not stated in the schema: named in its description)."""

    items: Rule
    max_items: int
    min_items: int = 0
    min_message: str = ""
    unique_by: str | None = None
    unique_message: str = ""
    description: str | None = None

    def schema(self) -> dict:
        schema: dict[str, Any] = {"type": "array", "items": self.items.schema(), "maxItems": self.max_items}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.unique_by:
            schema["x-unique-by"] = self.unique_by
        return _decorate(schema, self.description, None)

    def read(self, value: Any, at: str, errors: dict[str, str]) -> Any:
        if not isinstance(value, list):
            return _fail(errors, at, "must be an array")
        if len(value) > self.max_items:
            return _fail(errors, at, f"must have at most {self.max_items} items")
        if len(value) < self.min_items:
            return _fail(errors, at, self.min_message or f"must have at least {self.min_items} items")
        out = []
        seen: set[Any] = set()
        ok = True
        for i, entry in enumerate(value):
            if len(errors) > MAX_ERRORS:
                return INVALID
            parsed = self.items.read(entry, f"{at}[{i}]", errors)
            if parsed is INVALID:
                ok = False
                continue
            if self.unique_by is not None:
                key = parsed[self.unique_by]
                if key in seen:
                    _fail(errors, f"{at}[{i}].{self.unique_by}", self.unique_message)
                    ok = False
                    continue
                seen.add(key)
            out.append(parsed)
        return out if ok else INVALID


def raise_if_invalid(errors: dict[str, str]) -> None:
    """422 ``invalid`` with every bad field in ``fields`` (the one error body of the API)."""
    if errors:
        raise ApiError(
            "invalid",
            "the request has invalid fields: " + "; ".join(f"{k} {v}" for k, v in list(errors.items())[:10]),
            fields=errors,
        )


def location(*, description: str | None = None, example: dict | None = None) -> Obj:
    """``{"lat", "lon"}`` in degrees (WGS 84)."""
    return Obj(
        (
            Field("lat", Number(minimum=-90, maximum=90)),
            Field("lon", Number(minimum=-180, maximum=180)),
        ),
        description=description,
        example=example,
    )


PATH_ID: Final = identifier(max_length=128)


def path_id(match_info: Mapping[str, str], name: str) -> str:
    """An id from the URL path, by the same rule its document states; 422 ``invalid`` otherwise."""
    errors: dict[str, str] = {}
    value = PATH_ID.read(match_info[name], name, errors)
    raise_if_invalid(errors)
    return value
