"""Prices per model (USD per million tokens), the caching minimum of each, and the cost of usage.

Source: the Claude API pricing page, https://platform.claude.com/docs/en/about-claude/pricing
("Model pricing": base input, 5m and 1h cache writes, cache hits, output), checked 2026-12 with
the per-model overview pages (https://platform.claude.com/docs/en/models/<model>/overview) for
the models released after the page's last snapshot, and the prompt-caching page
(https://platform.claude.com/docs/en/build-with-claude/prompt-caching, "minimum cacheable prompt
length") for `cache_min`. A model that is not in the table has no known price: its cost is
reported as unknown, never guessed (so Claude Mythos 5.2 and Mythos Preview, whose prices the
documentation does not state, are left out).

Billing as the API reports usage: `input_tokens` excludes the cache reads and writes, which are
billed at their own prices; thinking tokens are part of `output_tokens`.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffcrew.agent.models import known_as
from diffcrew.agent.types import Usage

UNPRICED = "unknown (model not in the price table)"
DEFAULT_CACHE_MIN = 1024  # for a model the table does not know: the most common documented minimum
LONG_PROMPT_TOKENS = 100_000  # Haiku 5.5: a request whose prompt is longer pays other rates on every token


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write: float       # a 5-minute cache entry (the default TTL, and the only one diffcrew writes)
    cache_write_1h: float
    cache_read: float
    cache_min: int = DEFAULT_CACHE_MIN  # the shortest prompt prefix the model caches, in tokens
    long_prompt: Price | None = None  # rates of a request whose prompt is over LONG_PROMPT_TOKENS

    def at(self, prompt_tokens: int) -> Price:
        """The rates of one request whose prompt (input + cache reads + cache writes) has that size."""
        return self.long_prompt if self.long_prompt is not None and prompt_tokens > LONG_PROMPT_TOKENS else self


PRICES: dict[str, Price] = {
    # Fable 5.2: input and output from the docs' model lineup table; its cache prices are not on
    # the pricing page yet and follow the documented multipliers (1.25x, 2x, and 0.025x as Fable 5.1).
    "claude-fable-5-2": Price(8.0, 40.0, 10.0, 16.0, 0.2, cache_min=512),
    "claude-fable-5-1": Price(10.0, 50.0, 12.5, 20.0, 0.25, cache_min=512),
    "claude-mythos-5-1": Price(10.0, 50.0, 12.5, 20.0, 0.25, cache_min=512),
    "claude-fable-5": Price(10.0, 50.0, 12.5, 20.0, 1.0, cache_min=512),
    "claude-mythos-5": Price(10.0, 50.0, 12.5, 20.0, 1.0, cache_min=512),
    "claude-opus-5-5": Price(4.0, 20.0, 5.0, 8.0, 0.2, cache_min=512),
    "claude-opus-5": Price(5.0, 25.0, 6.25, 10.0, 0.5, cache_min=512),
    "claude-opus-4-8": Price(5.0, 25.0, 6.25, 10.0, 0.5, cache_min=1024),
    "claude-opus-4-7": Price(5.0, 25.0, 6.25, 10.0, 0.5, cache_min=2048),
    "claude-opus-4-6": Price(5.0, 25.0, 6.25, 10.0, 0.5, cache_min=4096),
    "claude-opus-4-5": Price(5.0, 25.0, 6.25, 10.0, 0.5, cache_min=4096),
    # Sonnet 5.5, Haiku 5.5 and Fable 5.2 are not in the prompt-caching page's list of minimums yet:
    # 512 as their model pages are quoted for Sonnet and Haiku 5.5, and as Fable 5.1 for Fable 5.2.
    # Sonnet 5.5: cache reads at $0.10 since 2026-10-07 (its migration guide: "half the Sonnet 5 rate").
    "claude-sonnet-5-5": Price(2.0, 10.0, 2.5, 4.0, 0.1, cache_min=512),
    "claude-sonnet-5": Price(2.0, 10.0, 2.5, 4.0, 0.2, cache_min=1024),
    "claude-sonnet-4-6": Price(3.0, 15.0, 3.75, 6.0, 0.3, cache_min=1024),
    "claude-sonnet-4-5": Price(3.0, 15.0, 3.75, 6.0, 0.3, cache_min=1024),
    "claude-haiku-5-5": Price(0.1, 0.5, 0.125, 0.2, 0.01, cache_min=512,
                              long_prompt=Price(0.5, 2.5, 0.625, 1.0, 0.05, cache_min=512)),
    "claude-haiku-4-5": Price(1.0, 5.0, 1.25, 2.0, 0.1, cache_min=4096),
}


def price_of(model: str) -> Price | None:
    """The price of a model id, also for dated ids such as claude-haiku-4-5-20251001."""
    return known_as(model, PRICES)


def cache_minimum(model: str) -> int:
    """The shortest prompt prefix `model` caches (a shorter one is sent uncached, without an error)."""
    price = price_of(model)
    return DEFAULT_CACHE_MIN if price is None else price.cache_min


def cost_of(model: str, usage: Usage) -> float | None:
    """USD cost of `usage` on `model`, or None when the model's price is unknown. The prompt-length
    tier (Haiku 5.5) is decided per request, so `usage` should be one call's."""
    price = price_of(model)
    if price is None:
        return None
    price = price.at(usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens)
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
