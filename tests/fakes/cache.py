"""The fake server's prompt: its blocks, its estimated size, and the prompt-cache simulation.

Owns how big a request is (what `count_tokens`, the context-window check and `usage` report)
and what a request reads from and writes to the simulated prompt cache.

The prompt is the sequence of blocks tools, system, messages (a string system prompt or
message content counts as one text block); a block carrying `cache_control` is a breakpoint,
and a prefix is every block from the start up to and including one. A prefix is identified
by a hash of its canonical JSON (`cache_control` values left out; model, max_tokens,
tool_choice, stream and other parameters are not part of it) and measured in estimated
tokens: ceil(len(json.dumps(block, sort_keys=True)) / 4), summed. The real tokenizer is not
modelled.

Simulation (`FakeMessagesServer(simulate_cache=True)`, the default):
  * On arrival, the cache hit is the longest prefix that is available and ends at a
    breakpoint of the request or at most `lookback` (default 20, as the real API's lookback)
    blocks before one; `lookback = 0` only matches the breakpoints themselves.
  * A breakpoint whose prefix is shorter than the model's minimum cacheable length is not
    cached: it neither reads nor writes ("Shorter prompts cannot be cached, even if marked
    with cache_control ... processed without caching, and no error is returned", prompt
    caching page; the minimums are in `models.py`).
  * read = the hit's size; creation = (size of the request's longest cacheable breakpoint
    prefix) - read; input_tokens = (size of the whole prompt) - read - creation ("input_tokens:
    Number of input tokens which were not read from or used to create a cache", prompt caching
    page).
  * When a request's response begins (just before its 200 headers are written), all of its
    cacheable breakpoint prefixes become available. Requests already in flight do not see
    them: two identical requests sent together both write. A request answered with an error
    or dropped writes nothing.

Not modelled: the 5-minute / 1-hour TTL (entries never expire within a server's life),
per-organisation caches, the `cache_creation` TTL breakdown, and cache_control on blocks
nested inside tool_result content (counted by the 4-breakpoint rule, not cached here).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Mapping

INPUT_SIDE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


def estimate_tokens(text: str) -> int:
    """Estimated tokens of a canonical JSON text: about four characters a token, rounded up."""
    return -(-len(text) // 4)


def as_blocks(content: Any) -> list[Any]:
    """System or message content as a list of blocks (a string is one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content if isinstance(content, list) else []


def prompt_blocks(body: dict[str, Any]) -> list[tuple[list[Any], Any]]:
    """(where, block) for every block of the prompt in cache order: tools, system, messages."""
    tools = body.get("tools")
    messages = body.get("messages")
    found: list[tuple[list[Any], Any]] = [(["tools"], t) for t in (tools if isinstance(tools, list) else [])]
    found += [(["system"], b) for b in as_blocks(body.get("system"))]
    for n, message in enumerate(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict):
            found.append((["messages", n], message))
            continue
        found += [(["messages", n, message.get("role")], b) for b in as_blocks(message.get("content"))]
    return found


def _without_mark(block: Any) -> Any:
    return {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block


def prompt_tokens(body: dict[str, Any]) -> int:
    """The estimated size of the whole prompt: what `count_tokens` answers and the window is checked against."""
    return sum(estimate_tokens(json.dumps(_without_mark(b), sort_keys=True)) for _, b in prompt_blocks(body))


@dataclass(frozen=True)
class CacheUse:
    """What one request reads and writes: its input-side usage and the prefixes it makes available."""
    usage: dict[str, int]
    writes: tuple[str, ...]


@dataclass(frozen=True)
class CachePlan:
    """A request's prompt seen by the cache: per block, the hash and size of the prefix ending there."""
    digests: tuple[str, ...]
    sizes: tuple[int, ...]  # cumulative estimated tokens
    marks: tuple[int, ...]  # indexes of the blocks carrying cache_control

    @classmethod
    def of(cls, body: dict[str, Any]) -> "CachePlan":
        running = hashlib.sha256()
        digests: list[str] = []
        sizes: list[int] = []
        marks: list[int] = []
        total = 0
        for index, (where, block) in enumerate(prompt_blocks(body)):
            if isinstance(block, dict) and "cache_control" in block:
                marks.append(index)
            text = json.dumps(_without_mark(block), sort_keys=True)
            total += estimate_tokens(text)
            running.update(json.dumps(where).encode() + b"\t" + text.encode() + b"\n")
            digests.append(running.copy().hexdigest())
            sizes.append(total)
        return cls(tuple(digests), tuple(sizes), tuple(marks))

    @property
    def total(self) -> int:
        return self.sizes[-1] if self.sizes else 0

    def hit(self, available: Mapping[str, float], lookback: int, minimum: int = 0) -> int:
        """Tokens of the longest available prefix ending at, or up to `lookback` blocks before, a breakpoint."""
        best = 0
        for mark in self.marks:
            for index in range(mark, max(-1, mark - lookback - 1), -1):
                if self.sizes[index] >= minimum and self.digests[index] in available:
                    best = max(best, self.sizes[index])
                    break
        return best

    def lookup(self, available: Mapping[str, float], lookback: int, minimum: int = 0) -> CacheUse:
        """The usage of a request arriving now, and what it writes; breakpoints under `minimum` tokens are not cached."""
        cacheable = [m for m in self.marks if self.sizes[m] >= minimum]
        read = self.hit(available, lookback, minimum)
        longest = max((self.sizes[m] for m in cacheable), default=0)
        creation = max(0, longest - read)
        usage = {"input_tokens": self.total - read - creation,
                 "cache_creation_input_tokens": creation, "cache_read_input_tokens": read}
        return CacheUse(usage, tuple(self.digests[m] for m in cacheable))
