"""Items in stock, loaded from a CSV file of name,quantity,unit_price rows."""

from __future__ import annotations

import csv
from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int
    unit_price: float

    @property
    def value(self) -> float:
        return self.quantity * self.unit_price


class Store:
    def __init__(self, items: list[Item]) -> None:
        self.items = items

    @classmethod
    def load(cls, path: str) -> "Store":
        """Read a store from a CSV file with a header row."""
        with open(path, newline="", encoding="utf-8") as handle:
            rows = csv.DictReader(handle)
            items = [Item(r["name"], int(r["quantity"]), float(r["unit_price"])) for r in rows]
        return cls(items)

    def total_value(self) -> float:
        return sum(item.value for item in self.items)

    def low_stock(self, threshold: int = 5) -> list[Item]:
        return [item for item in self.items if item.quantity < threshold]
