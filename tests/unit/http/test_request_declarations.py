"""The request schemas served in /openapi.json and the handlers' checks are one declaration.

Field by field, the served document shows exactly what each body's declaration checks; and two
independent engines agree on probes at and past every bound: jsonschema-rs (the validator
schemathesis generates against) on the served schema, and the declaration's own check.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from dispatch.app import endpoints
from dispatch.http import bodies as b
from dispatch.http import fields as f
from dispatch.http.openapi import build_openapi
from dispatch.http.problems import ApiError

BODIES_EXPECTED = {
    "PUT /v1/stores/{store_id}",
    "PUT /v1/stores/{store_id}/stock",
    "PATCH /v1/stores/{store_id}/stock",
    "POST /v1/orders",
    "PUT /v1/couriers/{courier_id}",
    "POST /v1/couriers/{courier_id}/shift",
    "POST /v1/couriers/{courier_id}/positions",
    "POST /v1/couriers/{courier_id}/events",
    "POST /v1/tokens",
    "POST /v1/webhooks",
    "POST /v1/orders/{order_id}/hold",
    "POST /v1/orders/{order_id}/release",
    "POST /v1/orders/{order_id}/reassign",
    "PUT /v1/stores/{store_id}/status",
    "PUT /v1/zones/{zone}/mode",
    "POST /v1/stores/{store_id}/orders/{order_id}/pick-result",
}
Path = tuple[str | int, ...]


def served_bodies() -> list[tuple[str, f.Obj, dict]]:
    table = endpoints()
    document = build_openapi(table)
    found = []
    for ep in table:
        operation = document["paths"][ep.path][ep.method.lower()]
        if ep.request is None:
            assert "requestBody" not in operation, ep.path
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        found.append((f"{ep.method} {ep.path}", ep.request, schema))
    return found


BODIES = served_bodies()
IDS = [label for label, _, _ in BODIES]


def test_every_operation_that_takes_a_body_serves_its_declaration():
    assert set(IDS) == BODIES_EXPECTED
    for label, declaration, _ in BODIES:
        assert isinstance(declaration, f.Obj), label


# --- field by field -------------------------------------------------------------------------


def compare(rule: Any, schema: dict, at: str, visited: list[str]) -> None:
    """Assert the served fragment states exactly what ``rule`` checks."""
    visited.append(at)
    if isinstance(rule, f.Obj):
        assert schema["type"] == "object", at
        assert list(schema["properties"]) == [x.name for x in rule.fields], at
        assert schema["required"] == [x.name for x in rule.fields if x.required], at
        for x in rule.fields:
            fragment = schema["properties"][x.name]
            assert fragment.get("nullable", False) is (not x.required), f"{at}.{x.name}: null reads as absent"
            compare(x.rule, fragment, f"{at}.{x.name}", visited)
        if not rule.cases:
            assert "oneOf" not in schema, at
            return
        assert len(schema["oneOf"]) == len(rule.cases), at
        for case, branch in zip(rule.cases, schema["oneOf"], strict=True):
            assert branch["required"] == [*case.when, *case.given], at
            for name, allowed in case.when.items():
                assert branch["properties"][name]["enum"] == list(allowed), at
            for name in case.given:
                assert branch["properties"][name]["type"] == schema["properties"][name]["type"], at
            for name in case.absent:
                assert branch["properties"][name] == f.NULL_ONLY, at
    elif isinstance(rule, f.Array):
        assert schema["type"] == "array", at
        assert schema["maxItems"] == rule.max_items, at
        assert schema.get("minItems", 0) == rule.min_items, at
        assert schema.get("x-unique-by") == rule.unique_by, at
        if rule.unique_by:
            assert "at most once" in schema["description"], at  # the rule a schema cannot state, stated
        compare(rule.items, schema["items"], f"{at}[]", visited)
    elif isinstance(rule, f.Text):
        assert (schema["type"], schema["minLength"]) == ("string", 1), at
        assert schema["maxLength"] == rule.max_length, at
        assert schema["pattern"] == rule.pattern, at
    elif isinstance(rule, f.Choice):
        options = [o for o in schema["enum"] if o is not None]  # an optional choice also lists null
        assert (schema["type"], options) == ("string", list(rule.options)), at
        assert None not in schema["enum"] or schema.get("nullable"), at
    elif isinstance(rule, f.Integer):
        assert schema["type"] == "integer", at
        assert (schema.get("minimum"), schema.get("maximum")) == (rule.minimum, rule.maximum), at
    elif isinstance(rule, f.Number):
        assert schema["type"] == "number", at
        assert (schema.get("minimum"), schema.get("maximum")) == (rule.minimum, rule.maximum), at
        assert schema.get("exclusiveMinimum", False) is rule.exclusive_minimum, at
    elif isinstance(rule, f.Timestamp):
        assert (schema["type"], schema["format"], schema["pattern"]) == ("string", "date-time", f.RFC3339), at
    elif isinstance(rule, f.Flag):
        assert schema["type"] == "boolean", at
    else:
        raise AssertionError(f"{at}: a rule the comparison does not know: {rule!r}")


@pytest.mark.parametrize(("label", "declaration", "schema"), BODIES, ids=IDS)
def test_served_schema_states_every_declared_field_with_its_bounds(label, declaration, schema):
    visited: list[str] = []
    compare(declaration, schema, label, visited)
    assert len(visited) >= 2  # the body and at least one field


def test_the_drift_from_issue_11_is_gone():
    schema = next(s for label, _, s in BODIES if label == "PUT /v1/stores/{store_id}")
    assert schema["properties"]["zone"]["maxLength"] == b.ZONE.max_length == 128
    assert schema["properties"]["zone"]["pattern"] == f.ID_PATTERN


# --- two engines, one answer ----------------------------------------------------------------


def as_json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema draft 4: ``nullable`` becomes a null alternative."""
    if isinstance(schema, list):
        return [as_json_schema(x) for x in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: as_json_schema(v) for k, v in schema.items() if k not in ("nullable", "example")}
    if schema.get("nullable"):
        if "enum" in out and None not in out["enum"]:
            return out  # OpenAPI 3.0: a nullable enum admits null only when it lists it
        if "enum" in out:
            out["enum"] = [o for o in out["enum"] if o is not None]
        return {"anyOf": [out, {"type": "null"}]}
    return out


SAMPLES = {f.NOT_BLANK: "x y", f.ID_PATTERN: "x-1", f.LEG_ID_PATTERN: "x-1/2", b.DAYS_PATTERN: "daily", b.HH_MM: "07:00"}


def sample(rule: Any) -> Any:
    """A small value the rule accepts."""
    if isinstance(rule, f.Obj):
        case = rule.cases[0] if rule.cases else f.Case()
        body = {x.name: sample(x.rule) for x in rule.fields if x.required or x.name in case.given}
        body.update({k: v[0] for k, v in case.when.items()})
        return body
    if isinstance(rule, f.Array):
        return [sample(rule.items)] * rule.min_items
    if isinstance(rule, f.Text):
        return rule.example or SAMPLES[rule.pattern]
    if isinstance(rule, f.Choice):
        return rule.options[0]
    if isinstance(rule, f.Integer | f.Number):
        return rule.maximum
    if isinstance(rule, f.Timestamp):
        return "2026-11-23T03:00:00Z"
    if isinstance(rule, f.Flag):
        return True
    raise AssertionError(rule)


def probes(rule: Any) -> list[Any]:
    """Values at and just past every bound of a leaf rule, and the usual wrong ones."""
    wrong: list[Any] = [True, [], {}]
    if isinstance(rule, f.Text):
        n = rule.max_length
        return [*wrong, 7, "", "x" * n, "x" * (n + 1), " ", "\t", "\u3000", "\x1c", "\ufeff", "\x85", "a b",
                "a/b", "ab\n", "\nab", "\x00", "a\x00b", "\U0001f600", "mon-fri", "sat,sun", "Mon", "mon-", "daily", "07:00", "23:59",
                "24:00", "7:00", "milk-1l", sample(rule)]
    if isinstance(rule, f.Choice):
        return [*wrong, "", "x", *rule.options, *(o.upper() for o in rule.options)]
    if isinstance(rule, f.Integer):
        edges = [e for e in (rule.minimum, rule.maximum) if e is not None]
        return [*wrong, "1", 1.0, 1.5, 0, *edges, *(e - 1 for e in edges), *(e + 1 for e in edges)]
    if isinstance(rule, f.Number):
        edges = [float(e) for e in (rule.minimum, rule.maximum) if e is not None]
        return [*wrong, "1", 0, 5e-324, -5e-324, *edges, *(e - 1e-9 for e in edges), *(e + 1e-9 for e in edges)]
    if isinstance(rule, f.Flag):
        return [[], {}, 0, 1, "true", None, True, False]
    if isinstance(rule, f.Timestamp):
        return [*wrong, "", "yesterday", "2026-11-23T03:00:00Z", "2026-11-23t03:00:00.123456789+08:00",
                "2026-11-23T03:00:00", "2026-11-23 03:00:00Z", "2026-02-30T00:00:00Z", "2026-06-30T23:59:60Z",
                "0000-01-01T00:00:00Z", "1900-01-01T00:00:00+23:59", "2999-12-31T23:59:59-23:59",
                "2026-11-23T03:00:00+24:00", "20261123T030000Z", "2026-11-23T03:00Z"]
    raise AssertionError(rule)


def leaves(rule: Any, path: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Every leaf rule with its path in ``sample`` bodies (arrays get one item to probe)."""
    if isinstance(rule, f.Obj):
        for x in rule.fields:
            yield from leaves(x.rule, (*path, x.name))
    elif isinstance(rule, f.Array):
        yield from leaves(rule.items, (*path, 0))
    else:
        yield path, rule


def put(body: Any, path: Path, value: Any) -> Any:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return body


def with_one_item_everywhere(rule: Any, body: Any) -> Any:
    """``sample`` with every array holding one sample item, so every leaf has a place."""
    if isinstance(rule, f.Obj):
        body = dict(body)
        for x in rule.fields:
            if isinstance(x.rule, f.Obj) and x.name not in body:
                body[x.name] = sample(x.rule)  # an optional object: present, so its leaves have a place
            if isinstance(x.rule, f.Array | f.Obj):
                body[x.name] = with_one_item_everywhere(x.rule, body.get(x.name, []))
        return body
    if isinstance(rule, f.Array):
        return [with_one_item_everywhere(rule.items, sample(rule.items))] * max(1, rule.min_items)
    return body


def handler_accepts(declaration: f.Obj, body: Any) -> bool:
    errors: dict[str, str] = {}
    return declaration.read(body, "", errors) is not f.INVALID and not errors


@pytest.mark.parametrize(("label", "declaration", "schema"), BODIES, ids=IDS)
def test_schema_and_check_agree_at_and_past_every_bound(label, declaration, schema):
    validator = jsonschema_rs.Draft4Validator(as_json_schema(schema), validate_formats=True)
    base = with_one_item_everywhere(declaration, sample(declaration))
    assert validator.is_valid(base) and handler_accepts(declaration, base), (label, base)
    checked = 0
    for path, rule in leaves(declaration):
        for value in probes(rule):
            body = put(base, path, value)
            assert validator.is_valid(body) == handler_accepts(declaration, body), (label, path, value)
            checked += 1
        body = put(base, path, None)  # null: absent — fine when optional, "is required" otherwise
        assert validator.is_valid(body) == handler_accepts(declaration, body), (label, path, None)
    assert checked > 10


@pytest.mark.parametrize(("label", "declaration", "schema"), BODIES, ids=IDS)
def test_schema_and_check_agree_on_array_lengths_and_missing_keys(label, declaration, schema):
    validator = jsonschema_rs.Draft4Validator(as_json_schema(schema), validate_formats=True)
    base = sample(declaration)
    for x in declaration.fields:
        missing = {k: v for k, v in base.items() if k != x.name}
        assert validator.is_valid(missing) == handler_accepts(declaration, missing), x.name
        if not declaration.cases:
            assert handler_accepts(declaration, missing) is (not x.required), x.name
        if isinstance(x.rule, f.Array):
            item = sample(x.rule.items)
            for n in {x.rule.min_items - 1, x.rule.min_items, x.rule.max_items, x.rule.max_items + 1} - {-1}:
                items = [put(item, (x.rule.unique_by,), f"sku-{i}") if x.rule.unique_by else item
                         for i in range(n)]
                body = {**base, x.name: items}
                assert validator.is_valid(body) == handler_accepts(declaration, body), (label, x.name, n)
    for wrong in ([], "x", 1, None):
        assert not validator.is_valid(wrong) and not handler_accepts(declaration, wrong)


def test_the_one_rule_a_schema_cannot_state_is_the_only_disagreement_on_lists():
    """A SKU twice: the schema (x-unique-by, description) admits it, the check refuses it."""
    for declaration, name in ((b.ORDER_POST, "items"), (b.STOCK_SNAPSHOT, "items")):
        schema = as_json_schema(declaration.schema())
        body = {**sample(declaration), name: [{"sku": "milk", "quantity": 1}] * 2}
        assert jsonschema_rs.Draft4Validator(schema).is_valid(body)
        errors: dict[str, str] = {}
        assert declaration.read(body, "", errors) is f.INVALID
        assert errors == {f"{name}[1].sku": declaration.member(name).rule.unique_message}


STOCK_CHANGES = [
    ({"sku": "a", "delta": -3}, True),
    ({"sku": "a", "quantity": 3}, True),
    ({"sku": "a", "delta": 1, "quantity": None}, True),
    ({"sku": "a", "delta": None, "quantity": 2}, True),
    ({"sku": "a", "delta": 1, "quantity": 2}, False),
    ({"sku": "a", "delta": 1, "quantity": -5}, False),
    ({"sku": "a"}, False),
    ({"sku": "a", "delta": None, "quantity": None}, False),
]
TOKENS = [
    ({"role": "operator"}, True),
    ({"role": "order_system", "store_id": None}, True),
    ({"role": "store", "store_id": "s1"}, True),
    ({"role": "courier", "courier_id": "c1", "store_id": None}, True),
    ({"role": "store"}, False),
    ({"role": "store", "store_id": "s1", "courier_id": "c1"}, False),
    ({"role": "courier", "store_id": "s1"}, False),
    ({"role": "operator", "store_id": "s1"}, False),
    ({"role": "order_system", "courier_id": "c1"}, False),
]


@pytest.mark.parametrize(("declaration", "body", "valid"),
                         [(b.STOCK_CHANGE, *x) for x in STOCK_CHANGES] + [(b.TOKEN_CREATE, *x) for x in TOKENS])
def test_schema_and_check_agree_on_which_fields_go_together(declaration, body, valid):
    validator = jsonschema_rs.Draft4Validator(as_json_schema(declaration.schema()))
    assert validator.is_valid(body) is valid
    assert handler_accepts(declaration, body) is valid


def test_errors_name_every_bad_field_in_the_one_error_body():
    with pytest.raises(ApiError) as raised:
        b.ORDER_POST.parse({"order_id": "a b", "items": [{"sku": " ", "quantity": 0}], "drop_off": {"lat": 91}})
    error = raised.value
    assert error.code == "invalid"
    assert error.extra()["fields"] == {
        "order_id": "must not contain whitespace or '/'",
        "items[0].sku": "must not be empty",
        "items[0].quantity": "must be at least 1",
        "drop_off.lat": "must be at most 90",
        "drop_off.lon": "is required",
    }
    assert error.detail.startswith("the request has invalid fields: order_id must not contain")
