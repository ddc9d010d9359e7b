"""Dispatch errors: domain facts with a stable code; only dispatch/http maps them to statuses.

A place off the served area is ``geo.errors.OutOfArea`` everywhere (one class for one fact).
"""

from __future__ import annotations


class DispatchError(Exception):
    code = "dispatch_error"

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail = detail
        self._extra = extra

    def extra(self) -> dict:
        return dict(self._extra)


class NotFound(DispatchError):
    code = "not_found"


class OutOfStock(DispatchError):
    code = "out_of_stock"


class OrderIdReused(DispatchError):
    code = "order_id_reused"


class NotCancellable(DispatchError):
    code = "not_cancellable"


class NotReassignable(DispatchError):
    code = "not_reassignable"


class CourierUnavailable(DispatchError):
    code = "courier_unavailable"


class PickConflict(DispatchError):
    """A store sent a second pick result for a leg with different lines than its first."""

    code = "pick_result_conflict"


class InvalidPick(DispatchError):
    """A pick result names a SKU the leg does not hold, or more units than it holds."""

    code = "invalid_pick"


class InvalidTransition(DispatchError):
    code = "invalid_transition"


class OverCapacity(DispatchError):
    code = "over_capacity"


class ZoneClosed(DispatchError):
    code = "zone_closed"


class Conflict(DispatchError):
    code = "conflict"


class Unavailable(DispatchError):
    code = "unavailable"


class InvalidCursor(DispatchError):
    code = "invalid_cursor"


class WebhookUrlRefused(DispatchError):
    """A webhook URL that is not http(s) or points at a loopback, private or link-local address."""

    code = "invalid"

    def extra(self) -> dict:
        return {"fields": {"url": self.detail}}


class NotRetryable(DispatchError):
    """A retry of a webhook delivery that has not failed, or whose endpoint is disabled."""

    code = "not_retryable"
