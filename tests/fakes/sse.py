"""The Server-Sent Events of a streamed Messages API answer, as the real API frames them.

Owns the event sequence for a complete message ("Streaming messages" page: `message_start`,
`ping`, per block `content_block_start` / deltas / `content_block_stop`, `message_delta`,
`message_stop`) and the mid-stream `error` event.
"""

from __future__ import annotations

import json
from typing import Any

from .cache import INPUT_SIDE

Event = tuple[str, dict[str, Any]]


def split(text: str, pieces: int) -> list[str]:
    """`text` in up to `pieces` consecutive non-empty chunks (one empty chunk for "")."""
    if not text:
        return [""]
    size = -(-len(text) // pieces)
    return [text[i:i + size] for i in range(0, len(text), size)]


def _block_events(block: dict[str, Any], json_parts: int = 4) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A block's `content_block_start` payload and its deltas."""
    kind = block.get("type")
    if kind == "text":
        return dict(block, text=""), [{"type": "text_delta", "text": t} for t in split(block["text"], 3)]
    if kind in ("tool_use", "server_tool_use"):
        raw = block.get("_partial_json")  # an input cut at max_tokens streams only its first part
        if raw is None:
            raw = json.dumps(block.get("input", {}), ensure_ascii=False) if block.get("input") else ""
            if any("\ud800" <= c <= "\udfff" for c in raw):  # a lone surrogate streams as its JSON escape
                raw = json.dumps(block["input"])
        start = {k: v for k, v in block.items() if k != "_partial_json"}
        return dict(start, input={}), [{"type": "input_json_delta", "partial_json": p} for p in split(raw, json_parts)]
    if kind == "thinking":
        # "a special signature_delta event is sent just before the content_block_stop event";
        # with display "omitted" the one thinking_delta carries an empty string (Streaming page).
        deltas = [{"type": "thinking_delta", "thinking": t} for t in split(block.get("thinking", ""), 3)]
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
        return dict(block, thinking="", signature=""), deltas
    return block, []  # redacted_thinking and others arrive whole in content_block_start


def sse_events(message: dict[str, Any], cumulative_usage: bool = False) -> list[Event]:
    """The stream of (event type, data) the Messages API sends for a complete `message`.
    `cumulative_usage`: `message_delta` carries the input-side usage too, not only output_tokens."""
    usage = message.get("usage") or {}
    delta_usage: dict[str, Any] = {"output_tokens": usage.get("output_tokens", 0)}
    if "output_tokens_details" in usage:
        delta_usage["output_tokens_details"] = usage["output_tokens_details"]
    if cumulative_usage:
        delta_usage = {**{k: usage[k] for k in INPUT_SIDE if k in usage}, **delta_usage}
    start = dict(message, content=[], stop_reason=None, stop_sequence=None, stop_details=None,
                 usage={k: v for k, v in usage.items() if k != "output_tokens_details"})
    start["usage"]["output_tokens"] = min(1, usage.get("output_tokens", 1))
    events: list[Event] = [("message_start", {"type": "message_start", "message": start}), ("ping", {"type": "ping"})]
    for index, block in enumerate(message.get("content") or []):
        first, deltas = _block_events(block)
        events.append(("content_block_start", {"type": "content_block_start", "index": index, "content_block": first}))
        events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    delta = {"stop_reason": message.get("stop_reason"), "stop_sequence": message.get("stop_sequence")}
    if message.get("stop_details") is not None:
        delta["stop_details"] = message["stop_details"]
    events.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": delta_usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def error_event(error_type: str, message: str) -> Event:
    """A mid-stream error: `event: error` / `data: {"type": "error", "error": {...}}` (Streaming page, "Error events")."""
    return "error", {"type": "error", "error": {"type": error_type, "message": message}}
