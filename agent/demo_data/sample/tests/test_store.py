from inventory.store import Item, Store


def test_total_value() -> None:
    store = Store([Item("bolt", 10, 0.5), Item("nut", 4, 0.25)])
    assert store.total_value() == 6.0


def test_low_stock() -> None:
    store = Store([Item("bolt", 10, 0.5), Item("nut", 4, 0.25)])
    assert [item.name for item in store.low_stock()] == ["nut"]
