"""A plain-text stock report."""

from __future__ import annotations

from inventory.store import Store


def render_report(path: str) -> str:
    store = Store.load(path)
    lines = [f"{item.name:<20} {item.quantity:>5} {item.value:>10.2f}" for item in store.items]
    lines.append(f"{'total':<20} {'':>5} {store.total_value():>10.2f}")
    low = store.low_stock()
    if low:
        lines.append("low stock: " + ", ".join(item.name for item in low))
    return "\n".join(lines)
