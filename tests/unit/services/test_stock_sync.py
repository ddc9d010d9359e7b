"""Stock syncs against in-memory ports: versions, the in-memory view, shortfalls and their facts."""

from __future__ import annotations

import pytest

from dispatch.catalog.stores import StoreService
from stores.errors import StaleVersion
from stores.model import StockChange
from stores.stock_view import StockView
from tests.conftest import T0
from tests.unit.services.conftest import POLICY
from tests.unit.services.fakes import InMemoryStores, RecordingObserver


def service_over(keeper, records: InMemoryStores):
    observer = RecordingObserver()
    view = StockView()
    service = StoreService(repository=records, keeper=keeper, stock_view=view, metrics=observer,
                           max_snap_m=POLICY.max_snap_m)
    return service, view, observer


async def test_snapshot_then_delta_update_the_view_and_count_each_sync(keeper):
    service, view, observer = service_over(keeper, InMemoryStores())
    await service.replace_stock("A", version=1, items=[("milk", 5), ("eggs", 2)], now=T0)
    await service.apply_changes("A", version=2, changes=[StockChange("milk", delta=-2)], now=T0)
    assert (view.available("A", "milk"), view.available("A", "eggs")) == (3, 2)
    assert observer.named("stock_synced") == [("snapshot", "applied"), ("delta", "applied")]


async def test_a_stale_version_is_counted_and_changes_nothing(keeper):
    service, view, observer = service_over(keeper, InMemoryStores())
    await service.replace_stock("A", version=5, items=[("milk", 5)], now=T0)
    with pytest.raises(StaleVersion):
        await service.replace_stock("A", version=5, items=[("milk", 0)], now=T0)
    assert view.available("A", "milk") == 5
    assert observer.named("stock_synced") == [("snapshot", "applied"), ("snapshot", "stale")]


async def test_a_sync_below_the_reserved_count_reports_a_shortfall_to_the_hook(keeper):
    records = InMemoryStores(reserved={"A": {"milk": 3}})
    service, view, observer = service_over(keeper, records)
    heard = []

    async def hook(store_id, result, now):
        heard.append((store_id, [x.sku for x in result.shortfalls], now))

    service.on_shortfall = hook
    await service.replace_stock("A", version=1, items=[("milk", 1)], now=T0)
    assert heard == [("A", ["milk"], T0)]
    assert observer.named("stock_fell_short") == [("z", 1)]
    assert view.available("A", "milk") == 0
