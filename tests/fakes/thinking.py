"""Thinking blocks: the fake server signs the ones it emits, remembers them, and checks what comes back.

Owns the rules the docs give for `thinking` / `redacted_thinking` blocks sent back in a later
request:
  * ERR "Thinking blocks cannot be modified": "If the most recent assistant message contains
    thinking or redacted_thinking blocks that were edited, reordered, filtered out, or
    reconstructed before being sent back to the API, the request returns a 400"; "With tool
    use, every thinking and redacted_thinking block from the assistant turn must be passed
    back exactly as received, including blocks whose thinking field is empty". TH: "Required:
    within a tool-use turn, pass thinking blocks back" and "A tool-use loop is one assistant
    turn": every assistant message of the loop in progress is held to that too. TH: "Allowed:
    outside tool use, omit prior turns' thinking". TH: "text placed in the empty thinking field
    of an omitted block is ignored rather than rejected".
  * PT (preserved thinking, the models with `preserved_thinking` in models.py; the fake acts as
    an account created after 2026-08-31, where the check is enforced): a block is valid only
    while its prefix (`system`, `tools`, every message before it, thinking blocks and
    `cache_control` left out) is unchanged, and "each thinking block records which thinking
    block came before it": removing blocks from the front is allowed, from the middle
    invalidates every later block. A block from another model is dropped without an error.
  * A signature the API did not issue: "Invalid `signature` in `thinking` block" (PT: "A
    tampered or undecryptable signature ... always returns a 400").
Source keys (ERR, TH, TT, PT, CW, PC, EF, WN) are the pages listed in models.py.
Signatures are base64 HMAC-SHA256 over (model, prefix, previous block, text) with a secret of
the server's; the ledger maps each signature to what was emitted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import threading
from dataclasses import dataclass
from typing import Any

from .cache import as_blocks
from .rules import Request, invalid

THINKING_TYPES = ("thinking", "redacted_thinking")
CANNOT_MODIFY = ("`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified. "
                 "These blocks must remain as they were in the original response.")
BOUND = ("Invalid `signature` in `thinking` block. The block is bound to a different conversation. Remove the block, "
         'or set `thinking.block_binding.prefix_mismatch_behavior` to "drop_block". That setting requires the '
         "`thinking-binding-controls-2026-08-01` value in the `anthropic-beta` header.")


@dataclass(frozen=True)
class Emitted:
    """One thinking block as the server emitted it."""
    kind: str
    text: str              # the whole thinking (also when display "omitted" sent it empty)
    shown: str             # what the answer carried in its `thinking` field
    prefix: str            # digest of the block's prefix
    previous: str | None   # the token of the thinking block before it in the request that produced it
    model: str


def _family(model: str) -> str:
    """A model id without its date suffix (claude-haiku-4-5-20251001 reads claude-haiku-4-5's blocks)."""
    return re.sub(r"-\d{8}$", "", model)


def _token(block: dict[str, Any]) -> str:
    return str(block.get("signature") if block.get("type") == "thinking" else block.get("data"))


def _clean(block: Any) -> Any:
    """A block as compared: no cache_control (PT: moving markers is not an edit), no null fields,
    none of the fake's own private keys (`_partial_json`)."""
    if not isinstance(block, dict):
        return block
    return {k: v for k, v in block.items() if k != "cache_control" and v is not None and not k.startswith("_")}


def _visible(content: Any) -> list[Any]:
    return [_clean(b) for b in as_blocks(content) if not (isinstance(b, dict) and b.get("type") in THINKING_TYPES)]


def _prefix(body: dict[str, Any], index: int, before: list[Any]) -> str:
    """Digest of what precedes a block: system, tools, messages[:index] and `before` in its own message."""
    messages = [{"role": m.get("role"), "content": _visible(m.get("content"))}
                for m in body.get("messages", [])[:index] if isinstance(m, dict)]
    messages.append({"role": "assistant", "content": _visible(before)})
    canonical = json.dumps({"system": _visible(body.get("system")), "tools": [_clean(t) for t in body.get("tools") or []],
                            "messages": messages}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _shape(content: Any, ignored: set[str] = frozenset()) -> list[Any]:
    """A message's blocks as compared for "cannot be modified": thinking blocks as (type, token, text),
    the text left out for the tokens in `ignored` (omitted blocks, whose text is ignored), the rest cleaned."""
    def shape(b: Any) -> Any:
        if not (isinstance(b, dict) and b.get("type") in THINKING_TYPES):
            return _clean(b)
        return (b["type"], _token(b), "" if _token(b) in ignored else str(b.get("thinking") or ""))
    return [shape(b) for b in as_blocks(content)]


def _is_tool_results(message: Any) -> bool:
    blocks = as_blocks(message.get("content")) if isinstance(message, dict) else []
    return bool(blocks) and isinstance(blocks[0], dict) and blocks[0].get("type") == "tool_result"


def _tool_loop(messages: list[Any]) -> list[int]:
    """The assistant messages of the tool-use loop the request continues ("A tool-use loop is one
    assistant turn", TH): from the end, each assistant message answered by tool results."""
    loop: list[int] = []
    i = len(messages) - 1
    while i >= 1 and _is_tool_results(messages[i]) and messages[i - 1].get("role") == "assistant":
        loop.append(i - 1)
        i -= 2
    return loop


def _fingerprint(content: Any) -> str:
    return json.dumps(_visible(content), sort_keys=True)


class ThinkingLedger:
    """The thinking blocks a server emitted, for checking the histories that come back."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or os.urandom(32)
        self._blocks: dict[str, Emitted] = {}
        self._messages: dict[str, list[list[Any]]] = {}  # fingerprint of the visible blocks -> shapes emitted
        self._lock = threading.Lock()

    # -- emitting ----------------------------------------------------------------------------
    def sign(self, body: dict[str, Any], request: Request, content: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Sign and remember the thinking blocks of an answer to `body`; return its content."""
        previous = self._last_readable(body, request)
        index = len(body.get("messages") or [])
        signed: list[dict[str, Any]] = []
        for block in content:
            if block.get("type") in THINKING_TYPES:
                block = self._emit(block, body, request, _prefix(body, index, signed), previous)
                previous = _token(block)
            signed.append(block)
        with self._lock:
            shapes = self._messages.setdefault(_fingerprint(signed), [])
            if _shape(signed) not in shapes:  # a retried request emits the same blocks again
                shapes.append(_shape(signed))
        return signed

    def _emit(self, block: dict[str, Any], body: dict[str, Any], request: Request, prefix: str,
              previous: str | None) -> dict[str, Any]:
        text = str(block.get("thinking") or block.get("data") or "")
        mac = hmac.new(self._secret, json.dumps([_family(request.model), prefix, previous, text]).encode(), hashlib.sha256)
        token = base64.b64encode(b"fake" + mac.digest()).decode()
        if block["type"] == "thinking":
            shown = "" if request.display == "omitted" else text
            block = {"type": "thinking", "thinking": shown, "signature": token}
        else:
            shown, block = "", {"type": "redacted_thinking", "data": block.get("data") or token}
        with self._lock:
            self._blocks[_token(block)] = Emitted(block["type"], text, shown, prefix, previous, _family(request.model))
        return block

    def _last_readable(self, body: dict[str, Any], request: Request) -> str | None:
        """The token of the last thinking block in the request that this model reads."""
        last = None
        for message in body.get("messages") or []:
            for block in as_blocks(message.get("content") if isinstance(message, dict) else None):
                if isinstance(block, dict) and block.get("type") in THINKING_TYPES:
                    emitted = self._blocks.get(_token(block))
                    if emitted is not None and emitted.model == _family(request.model):
                        last = _token(block)
        return last

    # -- checking ----------------------------------------------------------------------------
    def check(self, body: dict[str, Any], request: Request) -> None:
        """Raise the API's 400 for a history whose thinking blocks break a documented rule: a
        signature it never issued, then a modified latest turn, then an edited prefix or chain."""
        messages = body.get("messages") or []
        found = [(i, j, block) for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"
                 for j, block in enumerate(as_blocks(m.get("content")))
                 if isinstance(block, dict) and block.get("type") in THINKING_TYPES]
        for i, j, block in found:
            emitted = self._blocks.get(_token(block))
            if emitted is None or emitted.kind != block["type"]:
                what = "`signature` in `thinking`" if block["type"] == "thinking" else "`data` in `redacted_thinking`"
                raise invalid(f"messages.{i}.content.{j}: Invalid {what} block")
        latest = max((i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"),
                     default=None)
        loop = _tool_loop(messages)
        for i in sorted({*loop, *([] if latest is None else [latest])}):
            self._check_turn(messages[i].get("content"), i, in_tool_use=i in loop)
        previous: str | None = None
        for i, j, block in found:
            if self._check_block(body, request, (i, j), previous):
                previous = _token(block)

    def _check_block(self, body: dict[str, Any], request: Request, at: tuple[int, int], previous: str | None) -> bool:
        """Check one returned block; False when the model does not read it (dropped without an error)."""
        i, j = at
        blocks = as_blocks(body["messages"][i].get("content"))
        block, emitted = blocks[j], self._blocks[_token(blocks[j])]
        if emitted.model != _family(request.model):
            return False  # PT "Switching models": a block the current model can't read is dropped
        if block["type"] == "thinking" and emitted.shown and block.get("thinking") != emitted.shown:
            raise invalid(f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block")
        moved = previous is not None and emitted.previous != previous
        if request.rules.preserved_thinking and (moved or _prefix(body, i, blocks[:j]) != emitted.prefix):
            raise invalid(f"messages.{i}.content.{j}: {BOUND}")
        return True

    def _check_turn(self, content: Any, index: int, in_tool_use: bool) -> None:
        """ERR: the latest assistant message's thinking blocks come back exactly as emitted; TH: so do
        those of every message of the tool-use loop in progress, where they may not be left out."""
        with self._lock:
            emitted = list(self._messages.get(_fingerprint(content), []))
            omitted = {_token(b) for b in as_blocks(content) if isinstance(b, dict) and b.get("type") in THINKING_TYPES
                       and not self._blocks[_token(b)].shown}
        sent = _shape(content, omitted)
        thinking = [b for b in sent if isinstance(b, tuple)]
        with_thinking = [shape for shape in emitted if any(isinstance(b, tuple) for b in shape)]
        if not with_thinking or sent in with_thinking:
            return
        if not thinking and not in_tool_use:
            return  # TH: "Allowed: outside tool use, omit prior turns' thinking"
        expected = with_thinking[0]
        j = next((n for n, (a, b) in enumerate(zip(sent, expected)) if a != b), min(len(sent), len(expected)))
        raise invalid(f"messages.{index}.content.{j}: {CANNOT_MODIFY}")
