"""Store errors: domain facts with a stable code that only the HTTP layer maps to a status."""

from __future__ import annotations

from collections.abc import Sequence


class StoreError(Exception):
    code = "store_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail

    def extra(self) -> dict:
        """Extra fields for the error body."""
        return {}


class StoreNotFound(StoreError):
    code = "not_found"


class StaleVersion(StoreError):
    code = "stale_version"

    def __init__(self, store_id: str, version: int, stored: int) -> None:
        super().__init__(
            f"stock version {version} for store {store_id!r} is not above the stored version {stored}"
        )
        self.stored = stored

    def extra(self) -> dict:
        return {"stored_version": self.stored}


class NegativeStock(StoreError):
    code = "negative_stock"

    def __init__(self, skus: Sequence[str]) -> None:
        shown = ", ".join(sorted(skus)[:20])
        super().__init__(f"the delta would take on-hand below zero for: {shown}; nothing applied")
        self.skus = sorted(skus)

    def extra(self) -> dict:
        return {"skus": self.skus}
