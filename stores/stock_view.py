"""Stock view: an in-memory picture of what each store has available, for store choice.

Kept current by stock syncs and reservations; PostgreSQL stays the authority (a stale view
costs a failed reservation and the next candidate, never an oversell). Plain dicts, owned by
one thread (the event loop); replace or copy it to share across threads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType


class StockView:
    """Available units (on hand − reserved) per store and SKU; unknown means 0."""

    __slots__ = ("_stores",)

    def __init__(self, stores: Mapping[str, Mapping[str, int]] | None = None) -> None:
        self._stores: dict[str, dict[str, int]] = {}
        for store_id, mapping in (stores or {}).items():
            self.replace_store(store_id, mapping)

    def available(self, store_id: str, sku: str) -> int:
        """Units of ``sku`` available at ``store_id`` (0 if either is unknown)."""
        skus = self._stores.get(store_id)
        return skus.get(sku, 0) if skus is not None else 0

    def store_skus(self, store_id: str) -> Mapping[str, int]:
        """The store's SKU → available mapping (read-only use; empty if unknown)."""
        return self._stores.get(store_id, _EMPTY)

    def set_available(self, store_id: str, sku: str, n: int) -> None:
        """Set one SKU's available units (negative values count as 0)."""
        self._stores.setdefault(store_id, {})[sku] = max(0, int(n))

    def set_many(self, store_id: str, mapping: Mapping[str, int]) -> None:
        """Set several SKUs of one store (a delta sync); other SKUs keep their values."""
        skus = self._stores.setdefault(store_id, {})
        for sku, n in mapping.items():
            skus[sku] = max(0, int(n))

    def replace_store(self, store_id: str, mapping: Mapping[str, int]) -> None:
        """Replace a store's whole picture (a snapshot sync); SKUs not given become 0."""
        self._stores[store_id] = {sku: max(0, int(n)) for sku, n in mapping.items()}

    def adjust(self, store_id: str, sku: str, delta: int) -> int:
        """Add ``delta`` (negative for a reservation) to one SKU; return the new value (≥ 0)."""
        skus = self._stores.setdefault(store_id, {})
        value = max(0, skus.get(sku, 0) + int(delta))
        skus[sku] = value
        return value

    def remove_store(self, store_id: str) -> None:
        """Forget a store (its SKUs read as 0)."""
        self._stores.pop(store_id, None)

    def store_ids(self) -> Iterable[str]:
        """Stores with a picture."""
        return tuple(self._stores)


_EMPTY: Mapping[str, int] = MappingProxyType({})
