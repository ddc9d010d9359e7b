from __future__ import annotations

from stores.stock_view import StockView


def test_stock_view_unknown_store_or_sku_is_zero():
    view = StockView()
    assert view.available("s1", "apple") == 0
    view.set_available("s1", "apple", 3)
    assert view.available("s1", "pear") == 0
    assert view.available("s1", "apple") == 3


def test_stock_view_set_many_keeps_other_skus_and_replace_drops_them():
    view = StockView({"s1": {"apple": 1, "pear": 2}})
    view.set_many("s1", {"apple": 5})
    assert (view.available("s1", "apple"), view.available("s1", "pear")) == (5, 2)
    view.replace_store("s1", {"kiwi": 4})
    assert (view.available("s1", "apple"), view.available("s1", "kiwi")) == (0, 4)


def test_stock_view_adjust_never_goes_below_zero():
    view = StockView({"s1": {"apple": 2}})
    assert view.adjust("s1", "apple", -1) == 1
    assert view.adjust("s1", "apple", -5) == 0
    assert view.adjust("s2", "apple", 3) == 3
    view.set_available("s1", "apple", -4)
    assert view.available("s1", "apple") == 0
