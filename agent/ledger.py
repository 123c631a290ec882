"""The run's ledger: usage and cost per role, and the hard cost cap (--max-cost)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from diffcrew.agent.errors import BudgetExceeded
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.types import Usage

if TYPE_CHECKING:
    from diffcrew.agent.llm import ModelRequest


@dataclass
class Ledger:
    """Usage and cost per role over a run, and the hard cost cap (--max-cost).

    Before a call is sent, its worst case (estimated input plus `max_tokens` of output) is
    reserved against the cap; once it returns, the reservation is replaced by what it cost.
    Calls run concurrently, so reserving is what keeps parallel workers from overshooting
    together. Reserving and checking happen without an await in between (one event loop).
    """

    by_role: dict[str, Usage] = field(default_factory=dict)
    cost_usd: float | None = 0.0
    max_cost: float | None = None
    reserved: float = 0.0

    def reserve(self, request: ModelRequest) -> float:
        """Reserve the worst-case cost of a call, or BudgetExceeded when it might break the cap."""
        if self.max_cost is None:
            return 0.0
        worst = cost_of(request.model, Usage(input_tokens=request.input_tokens, output_tokens=request.max_tokens,
                                             calls=1))
        spent = self.cost_usd or 0.0
        if worst is None:
            raise BudgetExceeded(f"--max-cost cannot be enforced: no price is known for {request.model}")
        if spent + self.reserved + worst > self.max_cost:
            raise BudgetExceeded(f"the next {request.role} call could cost up to ${worst:.4f}, which would exceed "
                                 f"--max-cost ${self.max_cost:g} (spent ${spent:.4f}); no branch was made")
        self.reserved += worst
        return worst

    def add(self, role: str, model: str, usage: Usage, reserved: float = 0.0) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
        self.by_role[role] = self.by_role.get(role, Usage()) + usage
        cost = cost_of(model, usage)
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost

    def release(self, reserved: float) -> None:
        self.reserved = max(0.0, self.reserved - reserved)
