"""The OpenAPI document, built from the same route table the app serves."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from dispatch.http.fields import PATH_ID, Obj
from dispatch.http.problems import STATUS_BY_CODE

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": True,
}


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: tuple[str, ...] = ()  # empty = open
    request: Obj | None = None  # the body's one declaration: the handler parses with it
    responses: dict[int, dict | None] = field(default_factory=dict)
    errors: tuple[str, ...] = ()
    query: tuple[dict, ...] = ()
    media: str = "application/json"  # the success responses' media type (text/event-stream, text/html)


def _error_statuses(endpoint: Endpoint) -> dict[int, list[str]]:
    codes = list(endpoint.errors)
    if endpoint.roles:
        codes += ["unauthorized", "forbidden", "rate_limited"]
    if endpoint.request is not None:
        codes += ["malformed_json", "invalid", "body_too_large"]
    elif _path_params(endpoint.path) or endpoint.query:
        codes += ["invalid"]  # a path or query parameter out of range
    if endpoint.path.startswith("/v1/"):
        codes += ["unavailable"]
    codes += ["internal"]
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(STATUS_BY_CODE[code], []).append(code)
    return by_status


def build_openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    paths: dict[str, dict] = {}
    for ep in endpoints:
        operation: dict[str, Any] = {
            "summary": ep.summary,
            "tags": [ep.tag],
            "operationId": ep.handler.__name__,
            "responses": {},
        }
        params = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": PATH_ID.schema(),
            }
            for name in _path_params(ep.path)
        ]
        params += list(ep.query)
        if params:
            operation["parameters"] = params
        if ep.roles:
            operation["security"] = [{"bearer": []}]
            operation["description"] = "Roles: " + ", ".join(ep.roles)
        if ep.request is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": ep.request.schema()}},
            }
        for status, schema in ep.responses.items():
            content = (
                {ep.media: {"schema": schema}}
                if schema is not None
                else {"text/plain": {"schema": {"type": "string"}}}
            )
            operation["responses"][str(status)] = {"description": _describe(status), "content": content}
        for status, codes in sorted(_error_statuses(ep).items()):
            operation["responses"].setdefault(
                str(status),
                {
                    "description": "error: " + ", ".join(codes),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
        paths.setdefault(ep.path, {})[ep.method.lower()] = operation
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "FlashDispatch API",
            "version": "1",
            "description": "Dispatch for instant retail: stores as front warehouses, couriers,"
            " a half-hour promise.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]


def _describe(status: int) -> str:
    return {200: "OK", 201: "Created", 202: "Accepted", 204: "No content"}.get(status, str(status))
