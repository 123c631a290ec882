"""How hard diffcrew presses the model service: the concurrency limit and the retry budget.

`AdaptiveLimit` bounds the model calls in flight (additive increase, multiplicative decrease on
429/529); `RetryPolicy` spaces and bounds the retries of transient failures over a run.
TrackedClient (agent/llm.py) applies both around every call.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass


class AdaptiveLimit:
    """How many model calls may be in flight: additive increase, multiplicative decrease.

    Starts at the ceiling (--max-workers). A 429/529 halves the limit, but only when the refused
    call started under the current limit (its epoch): calls sent before the last decrease say
    nothing about the new limit, so one burst of refusals halves it once. After `limit`
    successes in a row the limit grows by one, back up to the ceiling.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self.peak = 0
        self.epoch = 0  # how many times the limit was lowered
        self._successes = 0
        self._changed = asyncio.Condition()

    async def __aenter__(self) -> int:
        async with self._changed:
            await self._changed.wait_for(lambda: self.in_flight < self.limit)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self.epoch

    async def __aexit__(self, *exc: object) -> None:
        async with self._changed:
            self.in_flight -= 1
            self._changed.notify_all()

    def throttled(self, epoch: int) -> None:
        if epoch == self.epoch:
            self.limit = max(1, self.limit // 2)
            self.epoch += 1
            self._successes = 0

    def succeeded(self) -> None:
        self._successes += 1
        if self.limit < self.ceiling and self._successes >= self.limit:
            self.limit, self._successes = self.limit + 1, 0


@dataclass
class RetryPolicy:
    """How transient failures are retried: backoff with full jitter, `retry-after` honoured,
    at most `per_call` retries of one call and `per_run` retries over the whole run."""

    per_call: int = 4
    per_run: int = 40
    base_delay: float = 0.5
    max_delay: float = 30.0
    used: int = 0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_delay)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** attempt))

    def take(self, attempt: int) -> bool:
        """Whether one more retry is allowed (and count it)."""
        if attempt >= self.per_call or self.used >= self.per_run:
            return False
        self.used += 1
        return True
