"""The run's ledger: usage and cost per role, and the hard cost cap (--max-cost).

The cap is hard: what was spent plus what is reserved for the calls in flight never exceeds it,
and a call's reservation is more than it can cost: its input priced as if every token were a
cache write (dearer than plain input), plus `max_tokens` of output (thinking is output too).
Reserving every call's worst case made runs that cost a hundredth of the cap fail, so instead:

- a call's `max_tokens` is bounded by what the budget still allows, down to its `min_tokens`
  (the smallest answer worth asking for);
- while other calls hold reservations, a call that would get less than half its `max_tokens`
  waits until one settles and gives back what it did not use (a cut answer costs a repair
  round; waiting costs only time);
- the run stops only when the call can never fit: what was spent only grows.

The input side is an upper bound from the request's size in bytes (a token covers at least one
byte); where the budget is tight, the free token-counting endpoint gives the real count. When
that fails (an older server, the network), the bound stands: the cap may then refuse a call it
could have afforded, never the other way round.
"""

from __future__ import annotations

import asyncio
import json
import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from diffcrew.agent.errors import BudgetExceeded
from diffcrew.agent.pricing import Price, cost_of, price_of
from diffcrew.agent.types import Usage
from diffcrew.tools.redact import SIGNED_BLOCKS

if TYPE_CHECKING:
    from diffcrew.agent.llm.protocol import ModelRequest

Counter = Callable[["ModelRequest"], Awaitable[int]]  # the exact input tokens of a request
FRAMING_TOKENS = 1024  # what the API adds to a prompt: the tool-use system prompt, turn markers
# The token-counting docs call the count "an estimate" that may differ "by a small amount".
COUNT_MARGIN, COUNT_SLACK = 1.02, 16
ROUNDING = 1e-9  # dollars kept free under the cap, so that float sums never pass it by a hair


@dataclass(frozen=True)
class _Grant:
    max_tokens: int
    cost: float  # what is held for the call: the most it can cost


def input_ceiling(request: ModelRequest) -> int:
    """Input tokens the request cannot exceed: its text in UTF-8 bytes (JSON only adds to it),
    plus what the API adds around it."""
    body = {k: v for k, v in request.body().items() if k != "max_tokens"}
    return len(json.dumps(body, ensure_ascii=False).encode("utf-8")) + FRAMING_TOKENS


async def counted_input(request: ModelRequest, count: Counter, ceiling: int) -> int:
    """The input tokens as the token-counting endpoint has them (with a margin), or `ceiling`
    when counting fails: a call is never lost to the count, which only saves money."""
    try:
        exact = await count(request)
    except Exception:  # CancelledError is not an Exception: a cancelled run still stops here
        return ceiling
    return math.ceil(exact * COUNT_MARGIN) + COUNT_SLACK if exact > 0 else ceiling


def _cache_ttls(request: ModelRequest) -> set[str]:
    """The cache TTLs the request asks for (a 1-hour write costs more than a 5-minute one)."""
    blocks: list[Any] = [*request.tools, *request.system]
    for message in request.messages:
        content = message.get("content")
        blocks += content if isinstance(content, list) else []
    return {str(b["cache_control"].get("ttl", "5m")) for b in blocks
            if isinstance(b, dict) and isinstance(b.get("cache_control"), dict)}


def input_rate(price: Price, request: ModelRequest) -> float:
    """USD per input token at worst: every token may be written to the cache."""
    write = price.cache_write_1h if "1h" in _cache_ttls(request) else price.cache_write
    return max(price.input, write) / 1e6


def _carries_thinking(request: ModelRequest) -> bool:
    return any(isinstance(b, dict) and b.get("type") in SIGNED_BLOCKS
               for m in request.messages if isinstance(m.get("content"), list) for b in m["content"])


def _floor(request: ModelRequest) -> int:
    return min(request.min_tokens, request.max_tokens)


def _rates(request: ModelRequest, price: Price, tokens: int) -> tuple[float, float]:
    """(USD the input may cost at most, USD per output token) of one call with that many input tokens."""
    rates = price.at(tokens)
    return tokens * input_rate(rates, request), rates.output / 1e6


@dataclass
class Ledger:
    """Usage and cost per role over a run, and the hard cost cap (--max-cost).

    Calls run concurrently on one event loop: a grant is checked and held with no await in
    between, and a settled call wakes the waiting ones. A waiting call holds nothing, so
    cancelling it leaks nothing; the caller gives back what it holds if its call fails."""

    by_role: dict[str, Usage] = field(default_factory=dict)
    cost_usd: float | None = 0.0
    max_cost: float | None = None
    reserved: float = 0.0
    held_calls: int = 0  # calls holding a reservation: only they can give budget back
    _settled: asyncio.Event | None = field(default=None, repr=False, compare=False)

    async def admit(self, request: ModelRequest, count: Counter | None = None) -> tuple[ModelRequest, float]:
        """Hold the budget for one call: (the request to send, its max_tokens bounded by the budget;
        the amount held). Waits while other calls hold what it needs; BudgetExceeded when waiting
        cannot help."""
        if self.max_cost is None:
            return request, 0.0
        price = price_of(request.model)
        if price is None:
            raise BudgetExceeded(f"--max-cost cannot be enforced: no price is known for {request.model}")
        tokens = input_ceiling(request)
        grant = self._grant(request, price, tokens)
        # Token counting leaves out earlier turns' thinking, which the current models bill as input:
        # a conversation that carries thinking keeps the byte bound.
        if count is not None and not _carries_thinking(request) and (grant is None or
                                                                     grant.max_tokens < request.max_tokens):
            tokens = await counted_input(request, count, tokens)  # tight: the real count is worth asking for
            grant = self._grant(request, price, tokens)
        while grant is None:
            self._refuse_if_hopeless(request, price, tokens)
            await self._next_settlement()
            grant = self._grant(request, price, tokens)
        self.reserved += grant.cost
        self.held_calls += 1
        if grant.max_tokens != request.max_tokens:
            request = replace(request, max_tokens=grant.max_tokens)
        return request, grant.cost

    def add(self, role: str, model: str, usage: Usage, reserved: float = 0.0) -> None:
        """A call has answered: its reservation becomes what it cost, and the rest is free again."""
        self._give_back(reserved)
        self.by_role[role] = self.by_role.get(role, Usage()) + usage
        cost = cost_of(model, usage)
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost
        self._wake()

    def release(self, reserved: float) -> None:
        """A call failed or was cancelled: what it held is free again."""
        self._give_back(reserved)
        self._wake()

    @property
    def spent(self) -> float:
        return self.cost_usd or 0.0

    def _give_back(self, reserved: float) -> None:
        if reserved <= 0:  # nothing was held (no cap)
            return
        self.held_calls -= 1
        # with nothing held, float drift must not leave a phantom reservation behind
        self.reserved = max(0.0, self.reserved - reserved) if self.held_calls else 0.0

    def _grant(self, request: ModelRequest, price: Price, tokens: int) -> _Grant | None:
        """The largest max_tokens up to the request's that fits beside what is spent and held, or
        None. While other calls are in flight it must be at least half the request's: they usually
        give back most of what they hold, and an answer cut at max_tokens costs a repair round.
        With none in flight, anything down to min_tokens will do."""
        assert self.max_cost is not None
        fixed, per_token = _rates(request, price, tokens)
        room = self.max_cost - ROUNDING - self.spent - self.reserved - fixed
        fits = min(request.max_tokens, math.floor(room / per_token)) if room > 0 else -1
        useful = max(_floor(request), request.max_tokens // 2) if self.held_calls else _floor(request)
        return _Grant(fits, fixed + fits * per_token) if fits >= useful else None

    def _refuse_if_hopeless(self, request: ModelRequest, price: Price, tokens: int) -> None:
        """BudgetExceeded when waiting cannot help: no call is in flight to give budget back, or
        the call would not fit even with every reservation given back (what is spent only grows)."""
        assert self.max_cost is not None
        fixed, per_token = _rates(request, price, tokens)
        need = fixed + _floor(request) * per_token
        if self.held_calls and self.spent + need <= self.max_cost - ROUNDING:
            return
        raise BudgetExceeded(f"the next {request.role} call needs at least ${need:.4f} ({tokens:,} input tokens, "
                             f"{_floor(request):,} output), which would exceed --max-cost ${self.max_cost:g} "
                             f"(spent ${self.spent:.4f}); no branch was made")

    async def _next_settlement(self) -> None:
        """Wait until a call in flight settles. add() and release() are plain functions (release
        runs while a call is being cancelled), so an Event is set, not a Condition notified."""
        if self._settled is None:
            self._settled = asyncio.Event()
        await self._settled.wait()

    def _wake(self) -> None:
        if self._settled is not None:
            self._settled.set()
            self._settled = None
