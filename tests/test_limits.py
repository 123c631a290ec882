"""The concurrency limit and the provider quota (agent/limits.py), without a server."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from diffcrew.agent import limits
from diffcrew.agent.limits import MARGIN, UNTIL_TOLD, AdaptiveLimit, Quota


def stamp(wall: datetime, seconds: float) -> str:
    return (wall + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def test_a_burst_of_refusals_halves_the_limit_once() -> None:
    limit = AdaptiveLimit(8)
    limit.throttled(0)
    limit.throttled(0)  # sent before the decrease: the same burst
    assert (limit.limit, limit.epoch) == (4, 1)
    limit.throttled(1)
    assert limit.limit == 2


def test_a_failed_raise_goes_back_to_the_limit_that_held_and_raises_later() -> None:
    limit = AdaptiveLimit(8)
    limit.throttled(0)  # 8 -> 4
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 5
    limit.throttled(limit.epoch)  # the probe to 5 was refused: back to 4, not down to 2
    assert limit.limit == 4
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 4  # twice the patience now
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 5
    limit.succeeded()
    old = limit.epoch - 1
    limit.throttled(old)  # a call from before the raise says nothing about it
    assert limit.limit == 5


def test_a_refusal_after_a_raise_held_halves() -> None:
    limit = AdaptiveLimit(8)
    limit.throttled(0)  # 4
    for _ in range(4):
        limit.succeeded()  # 5
    for _ in range(5):
        limit.succeeded()  # 6: the raise to 5 held
    assert limit.limit == 6
    limit.throttled(limit.epoch)
    assert limit.limit == 5  # back to the one that held
    limit.throttled(limit.epoch)
    assert limit.limit == 2  # refused at a limit that had held before: the service changed, halve


def test_slots_bound_the_calls_in_flight() -> None:
    async def peak(n: int) -> int:
        gate = AdaptiveLimit(n)

        async def one() -> None:
            async with gate.slot():
                await asyncio.sleep(0.01)
        await asyncio.gather(*(one() for _ in range(10)))
        assert gate.in_flight == 0
        return gate.peak
    assert asyncio.run(peak(3)) == 3


def test_quota_reads_the_headers_and_keeps_the_smallest_figure_per_window() -> None:
    wall = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)
    quota = Quota()
    quota.observe({"anthropic-ratelimit-requests-remaining": "5",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 10),
                   "anthropic-ratelimit-input-tokens-remaining": "1000",
                   "anthropic-ratelimit-input-tokens-reset": "2026-11-22T12:00:20Z"}, now=100.0, wall=wall)
    assert quota.allowances["requests"].remaining == 5
    assert abs(quota.allowances["requests"].reset - 110.0) < 0.05
    assert abs(quota.allowances["input-tokens"].reset - 120.0) < 0.05
    assert quota.counts_tokens()
    # a slow answer admitted earlier in the same window reports more: ignored
    quota.observe({"anthropic-ratelimit-requests-remaining": "7",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 10)}, now=100.5, wall=wall)
    assert quota.allowances["requests"].remaining == 5
    # a new window replaces the old one
    quota.observe({"anthropic-ratelimit-requests-remaining": "9",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 70)}, now=101.0, wall=wall)
    assert quota.allowances["requests"].remaining == 9
    assert abs(quota.allowances["requests"].reset - (101.0 + 60.0)) < 0.05  # capped: a distant reset is distrusted
    # a bucket that refilled: a sooner reset with more left replaces the figure
    quota.observe({"anthropic-ratelimit-requests-remaining": "8",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 20)}, now=101.0, wall=wall)
    assert quota.allowances["requests"].remaining == 8
    assert abs(quota.allowances["requests"].reset - 121.0) < 0.05
    # a late answer about a window already over says nothing
    quota.observe({"anthropic-ratelimit-requests-remaining": "0",
                   "anthropic-ratelimit-requests-reset": stamp(wall, -1)}, now=101.0, wall=wall)
    assert quota.allowances["requests"].remaining == 8
    # malformed values are ignored, not fatal
    quota.observe({"anthropic-ratelimit-tokens-remaining": "lots",
                   "anthropic-ratelimit-tokens-reset": "soon"}, now=101.0, wall=wall)
    assert "tokens" not in quota.allowances


def test_quota_holds_calls_until_the_reset_once_spent() -> None:
    wall = datetime.now(timezone.utc)
    quota = Quota()
    quota.observe({"anthropic-ratelimit-requests-remaining": "2",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 30),
                   "anthropic-ratelimit-input-tokens-remaining": "500",
                   "anthropic-ratelimit-input-tokens-reset": stamp(wall, 5)}, now=0.0, wall=wall)
    assert quota.hold(100, now=1.0) == 0
    quota.spend(100)
    assert abs(quota.hold(450, now=1.0) - 4.0) < 0.05  # 400 tokens left: wait for their reset
    assert quota.hold(100, now=1.0) == 0
    quota.spend(100)
    assert abs(quota.hold(10, now=1.0) - 29.0) < 0.05  # no request left until the requests reset
    assert quota.hold(10, now=30.1) == 0  # both resets passed: nothing known, nothing held
    assert quota.allowances == {}


def test_after_a_reset_the_quota_is_assumed_full_until_an_answer_says_more() -> None:
    wall = datetime.now(timezone.utc)
    quota = Quota()
    quota.observe({"anthropic-ratelimit-requests-limit": "3", "anthropic-ratelimit-requests-remaining": "0",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 2)}, now=0.0, wall=wall)
    assert abs(quota.hold(0, now=1.0) - 1.0) < 0.05
    assert quota.hold(0, now=2.5) == 0  # reset passed: full again
    for _ in range(3):
        quota.spend(0)
    assert quota.hold(0, now=2.5) == UNTIL_TOLD  # spent, and no word yet on the next reset
    quota.observe({"anthropic-ratelimit-requests-limit": "3", "anthropic-ratelimit-requests-remaining": "2",
                   "anthropic-ratelimit-requests-reset": stamp(wall, 4)}, now=2.6, wall=wall)
    # the service's word sets the reset; what it says is left counts the calls we sent since
    assert quota.allowances["requests"].remaining == 0
    assert abs(quota.hold(0, now=2.6) - 4.0) < 0.05
    # a call larger than a whole window does not wait forever
    quota = Quota()
    quota.observe({"anthropic-ratelimit-input-tokens-limit": "100", "anthropic-ratelimit-input-tokens-remaining": "100",
                   "anthropic-ratelimit-input-tokens-reset": stamp(wall, 1)}, now=2.6, wall=wall)
    assert quota.hold(500, now=2.7) == 0


class FakeTime:
    """limits.py's `time` and `asyncio`, on a clock that moves only when the gate waits: a wait with a
    timeout is recorded, times out at once and moves the clock by its timeout (no seconds elapse)."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.waits: list[float | None] = []

    def monotonic(self) -> float:
        return self.now

    async def wait_for(self, waiting, timeout: float | None):  # noqa: ANN001  (asyncio.wait_for's shape)
        self.waits.append(timeout)
        if timeout is None:
            return await waiting
        waiting.close()
        self.now += timeout
        raise TimeoutError

    def __getattr__(self, name: str):  # noqa: ANN204  (the rest of asyncio, unchanged)
        return getattr(asyncio, name)


def test_a_spent_quota_delays_the_next_call_until_its_reset(monkeypatch) -> None:
    # Was: 0.2 <= measured wait < 2.0 s. Now the gate's own clock: it waits exactly until the stated
    # reset (plus the margin), and lets the call go only once the clock has reached it.
    clock = FakeTime(100.0)
    monkeypatch.setattr(limits, "time", clock)
    monkeypatch.setattr(limits, "asyncio", clock)
    wall = datetime(2026, 11, 22, 12, 0, 0, tzinfo=timezone.utc)

    async def scenario() -> float:
        gate = AdaptiveLimit(8)
        gate.quota.observe({"anthropic-ratelimit-requests-remaining": "0",
                            "anthropic-ratelimit-requests-reset": stamp(wall, 0.3)}, wall=wall)
        async with gate.slot():
            return clock.now
    entered = asyncio.run(scenario())
    assert clock.waits == [pytest.approx(0.3 + MARGIN)]
    assert entered == pytest.approx(100.0 + 0.3 + MARGIN)
