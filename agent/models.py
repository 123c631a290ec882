"""What diffcrew knows about each model: output limit, context window, reasoning effort.

One owner for these facts: request building caps `max_tokens` with them and sends
`output_config.effort` only where the model documents it. A model that is not listed (a proxy's
own name, a newer id) gets no effort parameter and conservative limits; the service has the last
word either way.

Sources are named above the table. README "Models and effort" gives the defaults' reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

EFFORTS = ("low", "medium", "high", "xhigh", "max")


@dataclass(frozen=True)
class ModelFacts:
    context_window: int
    max_output: int
    efforts: tuple[str, ...] = ()  # the output_config.effort values the model accepts; () = no effort
    thinks_by_default: bool = False


_ALL = ("low", "medium", "high", "xhigh", "max")    # the effort page: xhigh and max both listed
_NO_XHIGH = ("low", "medium", "high", "max")        # max listed, xhigh not
_M, _K = 1_000_000, 1_000

# Context window and output limit: "Context windows" and the per-model overview pages ("1M-token
# context window ... up to 128k output tokens"; Haiku 4.5 and Opus 4.5: 200K / 64K). Effort levels:
# the "Effort" page (which models list `xhigh` and `max`; Haiku 4.5 takes no effort at all) and,
# for Sonnet 5.5, Haiku 5.5 and Fable / Mythos 5.2, their "what's new" pages. Thinking on by
# default: "Troubleshooting thinking", per-model table.
FACTS: dict[str, ModelFacts] = {
    "claude-fable-5-2": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-mythos-5-2": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-haiku-5-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-sonnet-5-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-fable-5-1": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-opus-5-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-mythos-5-1": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-sonnet-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-fable-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-mythos-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-opus-5": ModelFacts(_M, 128 * _K, _ALL, True),
    "claude-opus-4-8": ModelFacts(_M, 128 * _K, _ALL, False),
    "claude-opus-4-7": ModelFacts(_M, 128 * _K, _ALL, False),
    "claude-mythos-preview": ModelFacts(_M, 128 * _K, _NO_XHIGH, True),
    "claude-opus-4-6": ModelFacts(_M, 128 * _K, _NO_XHIGH, False),
    "claude-sonnet-4-6": ModelFacts(_M, 128 * _K, _NO_XHIGH, False),
    "claude-haiku-4-5": ModelFacts(200 * _K, 64 * _K, (), False),
    "claude-opus-4-5": ModelFacts(200 * _K, 64 * _K, ("low", "medium", "high"), False),
}
_FALLBACK = ModelFacts(200_000, 32_000)


def known_as(model: str, table: Mapping[str, T]) -> T | None:
    """`table`'s entry for a model id, dated ids (claude-haiku-4-5-20251001) included: the one
    rule for matching a model id, shared by these facts and the price table."""
    if model in table:
        return table[model]
    head, _, tail = model.rpartition("-")
    if tail.isdigit() and len(tail) == 8 and head in table:
        return table[head]
    return None


def facts(model: str) -> ModelFacts:
    """The facts of a model id, dated ids included."""
    known = known_as(model, FACTS)
    return _FALLBACK if known is None else known


def output_cap(model: str, wanted: int) -> int:
    """`wanted` output tokens, no more than the model can send in one answer."""
    return max(1, min(wanted, facts(model).max_output))


def effort_for(model: str, wanted: str | None) -> str | None:
    """The effort to send: the wanted level where the model accepts it, the nearest lower level
    it accepts otherwise (`xhigh` on a model without it becomes `high`), and none at all on a
    model that documents no effort parameter."""
    accepted = facts(model).efforts
    if wanted is None or not accepted:
        return None
    for level in reversed(EFFORTS[: EFFORTS.index(wanted) + 1]):
        if level in accepted:
            return level
    return None
