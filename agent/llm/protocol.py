"""The model seam's contract: what a role sends (`ModelRequest`), what it gets back (`ModelReply`),
the `ModelClient` protocol every client meets, and the failure worth retrying.

Both clients decode an answer the same way, so the helpers that turn content blocks into plain
dicts the API accepts back (`wire_blocks`, `readable`, `refusal_of`, `usage_of`) live here too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Protocol

from diffcrew.agent import models
from diffcrew.agent.errors import ModelError
from diffcrew.agent.types import Usage
from diffcrew.tools.tokens import estimate_tokens

# The smallest max_tokens worth sending when --max-cost bounds a call: models that think before they
# answer spend output tokens on it (the API's smallest thinking budget is 1,024), and a tool call
# cut at max_tokens is thrown away. Roles whose answers are longer ask for more.
MIN_TOKENS = 2048


@dataclass(frozen=True)
class ModelRequest:
    """One Messages API call, as the roles describe it (model-protocol.md v2, §1).

    `tool_choice` is always `auto`: the current models refuse a forced one, so the system prompt
    names the tool that ends the turn and the role checks that it was called. No prefill and no
    sampling parameters are ever sent. `effort` becomes `output_config.effort` on models that
    document it; `max_tokens` covers thinking plus the answer and is capped at the model's limit.
    """

    role: str
    model: str
    system: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    max_tokens: int
    path: str | None = None
    effort: str | None = None
    stream: bool = True
    min_tokens: int = MIN_TOKENS  # --max-cost may lower max_tokens down to this, never below
    # Called once the answer has begun (the prompt is read, so its cache entry can be read by others).
    on_start: Callable[[], None] | None = field(default=None, compare=False, repr=False)

    def body(self) -> dict[str, Any]:
        """The request as sent on the wire (without transport options)."""
        body: dict[str, Any] = {"model": self.model, "max_tokens": models.output_cap(self.model, self.max_tokens),
                                "system": self.system, "messages": self.messages, "tools": self.tools,
                                "tool_choice": {"type": "auto"}}
        effort = models.effort_for(self.model, self.effort)
        if effort is not None:
            body["output_config"] = {"effort": effort}
        return body

    @cached_property
    def input_tokens(self) -> int:
        """A rough count of the input tokens, for the cost cap and the provider's token quota
        (worked out once per request: a worker's body holds the whole shared context)."""
        return estimate_tokens(json.dumps(self.body()))


@dataclass(frozen=True)
class ModelReply:
    """A model answer: content blocks as plain dicts (exactly as the API sent them, thinking
    included), stop reason, usage, and the refusal's explanation when there is one."""

    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage
    ratelimit: dict[str, str] = field(default_factory=dict)  # the anthropic-ratelimit-* headers
    refusal: str = ""

    def tool_calls(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def text(self) -> str:
        return "\n".join(b.get("text", "") for b in self.content if b.get("type") == "text")


class ModelClient(Protocol):
    async def call(self, request: ModelRequest) -> ModelReply: ...

    async def count_tokens(self, request: ModelRequest) -> int: ...

    async def aclose(self) -> None: ...


class TransientModelError(ModelError):
    """A failure worth retrying (429, 5xx, 529, connection, timeout, a stream cut mid-way)."""

    def __init__(self, message: str, retry_after: float | None = None, throttled: bool = False,
                 ratelimit: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.throttled = throttled
        self.ratelimit = ratelimit or {}


def usage_of(raw: Any) -> Usage:
    """The usage an answer reports (an SDK object or a plain dict), as one call's `Usage`."""
    def get(name: str) -> int:
        value = raw.get(name) if isinstance(raw, dict) else getattr(raw, name, 0)
        return int(value or 0)
    return Usage(get("input_tokens"), get("output_tokens"), get("cache_read_input_tokens"),
                 get("cache_creation_input_tokens"), calls=1)


# The fields the API takes back for each block type it sends; any other block type is kept whole.
_WIRE_FIELDS = {"text": ("type", "text", "citations"), "thinking": ("type", "thinking", "signature"),
                "redacted_thinking": ("type", "data"), "tool_use": ("type", "id", "name", "input")}


def wire_blocks(blocks: list[Any]) -> list[dict[str, Any]]:
    """An answer's content blocks as plain dicts the API accepts back unchanged: every block, in
    order (thinking blocks with their signatures: a missing or altered one is refused)."""
    plain: list[dict[str, Any]] = []
    for block in blocks:
        data = block if isinstance(block, dict) else block.model_dump(mode="json", exclude_none=True)
        fields = _WIRE_FIELDS.get(str(data.get("type")))
        plain.append({k: data[k] for k in fields if data.get(k) is not None} if fields else
                     {k: v for k, v in data.items() if v is not None})
    return plain


UNREADABLE = ("the model's answer could not be read: {detail}; a lone UTF-16 surrogate such as \\ud800 is "
              "valid JSON but no text can hold it. Try again, or choose another model")


def readable(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`blocks` unchanged, or a ModelError when some string in them holds a lone surrogate: such
    an answer could be neither sent back, written to the transcript nor applied to a file."""
    text = json.dumps(blocks, ensure_ascii=False)
    if any("\ud800" <= c <= "\udfff" for c in text):
        raise ModelError(UNREADABLE.format(detail="it holds a lone surrogate"))
    return blocks


def refusal_of(message: Any) -> str:
    """The explanation a refusal carries (`stop_details`), if any."""
    details = message.get("stop_details") if isinstance(message, dict) else getattr(message, "stop_details", None)
    if details is None:
        return ""
    get = details.get if isinstance(details, dict) else lambda name: getattr(details, name, None)
    return " ".join(str(p) for p in (get("category"), get("explanation")) if p)
