"""Request bodies read off the wire: a JSON object within a size limit, or a 4xx saying why not.

What the object must contain is declared in ``dispatch.http.bodies`` (checked by ``fields``)."""

from __future__ import annotations

import json

from aiohttp import web

from dispatch.http.problems import ApiError
from dispatch.http.wire_json import decode_json


async def read_json_object(request: web.Request, *, max_bytes: int) -> dict:
    """The body as a JSON object: 413 past ``max_bytes``, 400 when not UTF-8 JSON or not an object."""
    if request.content_length is not None and request.content_length > max_bytes:
        raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
    if request.content_length is not None:  # a known length within the limit: read it at once
        raw: bytes | bytearray = await request.read()
    else:
        raw = bytearray()
        async for chunk in request.content.iter_chunked(1 << 16):
            raw.extend(chunk)
            if len(raw) > max_bytes:
                raise ApiError("body_too_large", f"the body is larger than {max_bytes} bytes")
    try:
        body = decode_json(raw)
    except UnicodeDecodeError:
        raise ApiError("malformed_json", "the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError):
        raise ApiError("malformed_json", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError("malformed_json", "the body must be a JSON object")
    return body
