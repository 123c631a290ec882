"""A tiny stock-keeping library."""

from inventory.store import Item, Store

__all__ = ["Item", "Store"]
