"""How hard diffcrew presses the model service: the concurrency limit, the provider's stated
quota, and the retry budget.

`AdaptiveLimit` bounds the model calls in flight (additive increase, multiplicative decrease on
429/529) and holds new calls while the `anthropic-ratelimit-*` headers say the quota is spent;
`RetryPolicy` spaces and bounds the retries of transient failures over a run. TrackedClient
(agent/llm/tracked.py) applies both around every call.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

# The header families the Messages API sends (limit / remaining / reset, reset in RFC 3339).
FAMILIES = ("requests", "tokens", "input-tokens", "output-tokens")
LONGEST_HOLD = 60.0  # a reset further away than this is distrusted (clock skew): wait at most this
MARGIN = 0.01  # seconds after a stated reset before counting on it
UNTIL_TOLD = math.inf  # hold(): wait for the next answer's headers


@dataclass
class Allowance:
    """What one header family says is left until its reset (on the monotonic clock)."""

    remaining: int
    reset: float
    limit: int | None = None  # what a whole window holds
    guessed: bool = False  # full again after a reset, as assumed: the next answer overrules it


@dataclass
class Quota:
    """The provider's rate-limit state as its last answers stated it, spent down locally.

    Answers arrive out of order (a slow call admitted early reports more left than there is), so
    within one window (the same reset, give or take half a second) the smallest figure wins; a
    different reset replaces what was known (a new window, or a token bucket that refilled), and
    an answer whose reset has already passed is ignored. Each call
    started spends one request and its estimated input tokens. When a reset passes, the family
    is assumed full again (its `-limit`) until an answer says more; if that is spent too, calls
    wait for the next answer (UNTIL_TOLD), or one goes ahead to ask when none is in flight.
    """

    allowances: dict[str, Allowance] = field(default_factory=dict)

    def observe(self, headers: Mapping[str, str], now: float | None = None,
                wall: datetime | None = None) -> None:
        now = time.monotonic() if now is None else now
        wall = datetime.now(timezone.utc) if wall is None else wall
        for family in FAMILIES:
            remaining = _integer(headers.get(f"anthropic-ratelimit-{family}-remaining"))
            resets_in = _seconds_until(headers.get(f"anthropic-ratelimit-{family}-reset"), wall)
            if remaining is None or resets_in is None or resets_in <= 0:
                continue  # nothing stated, or a late answer about a window that has passed
            fresh = Allowance(remaining, now + min(resets_in, LONGEST_HOLD) + MARGIN,
                              _integer(headers.get(f"anthropic-ratelimit-{family}-limit")))
            known = self.allowances.get(family)
            if known is not None and known.guessed:  # the guess has counted our own calls since the reset
                fresh.remaining = min(fresh.remaining, known.remaining)
                self.allowances[family] = fresh
            elif known is None or known.reset <= now or abs(fresh.reset - known.reset) > 0.5:
                self.allowances[family] = fresh  # a new window, or a bucket that refilled sooner
            else:
                known.remaining = min(known.remaining, fresh.remaining)

    def counts_tokens(self) -> bool:
        return any(f in self.allowances for f in ("tokens", "input-tokens"))

    def hold(self, tokens: int, now: float | None = None) -> float:
        """Seconds to wait before a call needing `tokens` input tokens may start (0: go)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for family, allowance in list(self.allowances.items()):
            if allowance.reset <= now:
                if allowance.limit is None:
                    del self.allowances[family]
                    continue
                allowance.remaining, allowance.reset, allowance.guessed = allowance.limit, math.inf, True
            need = _need(family, tokens)
            if allowance.limit is not None:
                need = min(need, allowance.limit)  # a call larger than a whole window waits for a full one
            if allowance.remaining < need:
                wait = max(wait, UNTIL_TOLD if allowance.guessed else allowance.reset - now)
        return wait

    def spend(self, tokens: int) -> None:
        for family, allowance in self.allowances.items():
            if family != "output-tokens":
                allowance.remaining -= _need(family, tokens)


def _need(family: str, tokens: int) -> int:
    return max(1, tokens) if family in ("tokens", "input-tokens") else 1


def _integer(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _seconds_until(stamp: str | None, wall: datetime) -> float | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - wall).total_seconds())


class AdaptiveLimit:
    """How many model calls may be in flight, and when the next may start.

    Starts at the ceiling (--max-workers). A 429/529 lowers the limit, but only when the refused
    call started under the current limit (its epoch): calls sent before the last change say
    nothing about the new limit, so one burst of refusals lowers it once. It halves, except when
    the limit had just been raised past one that held: then it goes back to that one, and the
    next raise waits twice as long. It is raised by one after `limit` (times that patience)
    successes in a row, back up to the ceiling.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self.peak = 0
        self.epoch = 0  # how many times the limit changed
        self.quota = Quota()
        self._held = 0  # the limit before the last raise (0: none)
        self._patience = 1
        self._successes = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self, tokens: int = 0) -> AsyncIterator[int]:
        """Hold one place among the calls in flight; yields the epoch the call started in."""
        epoch = await self._acquire(tokens)
        try:
            yield epoch
        finally:
            async with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    async def _acquire(self, tokens: int) -> int:
        async with self._changed:
            while True:
                wait = self.quota.hold(tokens)
                if wait == UNTIL_TOLD and self.in_flight == 0:
                    wait = 0.0  # nobody in flight to bring news: this call goes to ask
                if wait <= 0 and self.in_flight < self.limit:
                    break
                try:  # woken by a finished call (and its headers), or by the quota's reset
                    await asyncio.wait_for(self._changed.wait(), timeout=None if wait in (0, UNTIL_TOLD) else wait)
                except TimeoutError:
                    pass
            self.quota.spend(tokens)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self.epoch

    def observe(self, headers: Mapping[str, str]) -> None:
        """Take in the rate-limit headers of an answer (a success or a refusal); call it while
        still holding the slot, so that releasing it wakes the calls waiting for news."""
        self.quota.observe(headers)

    def throttled(self, epoch: int) -> None:
        if epoch != self.epoch:
            return
        if self._held and self.limit == self._held + 1:  # the raise did not hold: back, and wait longer
            self.limit = self._held
            self._patience = min(self._patience * 2, 16)
        else:
            self.limit = max(1, self.limit // 2)
        self._held = 0
        self.epoch += 1
        self._successes = 0

    def succeeded(self) -> None:
        """Count a success; call it while still holding the slot, so that releasing it wakes the
        calls waiting for the raised limit."""
        self._successes += 1
        if self.limit < self.ceiling and self._successes >= self.limit * self._patience:
            self._held, self.limit = self.limit, self.limit + 1
            self.epoch += 1
            self._successes = 0


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
