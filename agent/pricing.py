"""Prices per model (USD per million tokens) and the cost of a usage tally.

Source: the provider's public price list as of 2026-11 (5-minute cache writes). A model that is
not in the table has no known price: its cost is reported as unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffcrew.agent.types import Usage

UNPRICED = "unknown (model not in the price table)"


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float
    cache_read: float


PRICES: dict[str, Price] = {
    "claude-fable-5-2": Price(10.0, 50.0, 12.5, 0.25),
    "claude-fable-5-1": Price(10.0, 50.0, 12.5, 0.25),
    "claude-fable-5": Price(10.0, 50.0, 12.5, 1.0),
    "claude-opus-5-5": Price(4.0, 20.0, 5.0, 0.2),
    "claude-opus-5": Price(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-8": Price(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-7": Price(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-6": Price(5.0, 25.0, 6.25, 0.5),
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 0.5),
    "claude-sonnet-5-5": Price(2.0, 10.0, 2.5, 0.1),
    "claude-sonnet-5": Price(2.0, 10.0, 2.5, 0.2),
    "claude-sonnet-4-6": Price(3.0, 15.0, 3.75, 0.3),
    "claude-sonnet-4-5": Price(3.0, 15.0, 3.75, 0.3),
    "claude-haiku-5-5": Price(0.1, 0.5, 0.125, 0.01),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 0.1),
}


def price_of(model: str) -> Price | None:
    """The price of a model id, also for dated ids such as claude-haiku-4-5-20251001."""
    if model in PRICES:
        return PRICES[model]
    base = model.rsplit("-", 1)[0]
    return PRICES.get(base) if model.rsplit("-", 1)[-1].isdigit() and len(model.rsplit("-", 1)[-1]) == 8 else None


def cost_of(model: str, usage: Usage) -> float | None:
    """USD cost of `usage` on `model`, or None when the model's price is unknown."""
    price = price_of(model)
    if price is None:
        return None
    return (usage.input_tokens * price.input + usage.output_tokens * price.output
            + usage.cache_write_tokens * price.cache_write + usage.cache_read_tokens * price.cache_read) / 1e6


PLAN_OUTPUT_ESTIMATE = 1_500  # tokens a plan usually takes; an estimate, shown as one


def estimate_cost(model: str, input_tokens: int, output_tokens: int) -> float | None:
    """USD for one call of that size, or None when the model's price is unknown."""
    return cost_of(model, Usage(input_tokens=input_tokens, output_tokens=output_tokens, calls=1))


def money(cost: float | None, unknown: str = "unknown", *, estimate: bool = False) -> str:
    """A cost as users see it: `$0.0123` (`~$0.0123` for an estimate), or `unknown` when the
    price is not known."""
    return unknown if cost is None else f"{'~' if estimate else ''}${cost:.4f}"
