"""HTTP problems: the one mapping from error codes to statuses, and the JSON error body."""

from __future__ import annotations

from aiohttp import web

STATUS_BY_CODE: dict[str, int] = {
    "malformed_json": 400,
    "invalid_cursor": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "stale_version": 409,
    "out_of_stock": 409,
    "order_id_reused": 409,
    "not_cancellable": 409,
    "not_reassignable": 409,
    "courier_unavailable": 409,
    "invalid_transition": 409,
    "pick_result_conflict": 409,
    "invalid_pick": 409,  # well-formed, but not what the leg holds
    "conflict": 409,
    "over_capacity": 409,
    "not_retryable": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "invalid": 422,
    "out_of_area": 422,
    "zone_closed": 422,
    "negative_stock": 422,
    "bad_road_network": 422,
    "rate_limited": 429,
    "internal": 500,
    "unavailable": 503,
}


class ApiError(Exception):
    """An error raised by the HTTP layer itself (validation, auth, size)."""

    def __init__(self, code: str, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self._extra = extra

    def extra(self) -> dict:
        return dict(self._extra)


def error_response(
    code: str, detail: str, *, extra: dict | None = None, headers: dict | None = None
) -> web.Response:
    body = {"error": code, "detail": detail}
    if extra:
        body.update(extra)
    return web.json_response(body, status=STATUS_BY_CODE.get(code, 500), headers=headers)
