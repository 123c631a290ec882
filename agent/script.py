"""Scripts of model answers: the format shared by the scripted model (demo, replay) and test fakes.

A script is JSON:

    {"format": "diffcrew-script/1",
     "turns": {"orchestrator": [TURN, ...],
               "worker:<path>": [TURN, ...],
               "review": [TURN, ...],
               "synthesizer": [TURN, ...]}}

A request is answered by the script's list for its key (see `key_for_request`), at the index
given by how many assistant turns the request already holds. That makes answers depend only on
the request, never on arrival order, so concurrent workers and retried calls get the right one.

A TURN is one of
    {"tool": NAME, "input": {...}, "text": "optional words before the call"}
    {"text": "plain words, no tool call"}
    {"content": [...blocks...], "stop_reason": "..."}          (raw Messages API content)
and may carry "usage": {"input_tokens": N, "output_tokens": N, ...} and "stop_reason".

Answers that end otherwise than with a tool call or a finished text (all count as turns):
    {"tool": NAME, "input": {...}, "stop_reason": "max_tokens"}
        cut at max_tokens: the tool_use input is cut half-way ("cut_at": N characters of its
        JSON text instead), streamed as that partial JSON and, in a JSON answer, as the object
        the SDK's stream accumulator makes of it (complete fields only; a string cut mid-way is
        left out); output_tokens = max_tokens
    {"text": "half an ans", "stop_reason": "max_tokens"}     a text answer cut at max_tokens
    {"refusal": "cyber"}  or  {"refusal": {"category": "bio", "explanation": "..."}}  or
    {"refusal": true}     stop_reason "refusal" with `stop_details` {"type": "refusal",
        "category": ..., "explanation": ...} (the SDK's RefusalStopDetails); "text": partial
        words said before the refusal, optional
    {"context_window_exceeded": true, "text": "optional partial words"}
        stop_reason "model_context_window_exceeded"

Thinking: a server standing in for a model that thinks (see the fake server) opens each answer
with a signed thinking block. A turn may say "thinking": "the reasoning text" to choose its
text, or "thinking": false for an answer without one (adaptive thinking may skip it); raw
"content" that holds its own thinking block keeps it (the server signs it).

Lists may also hold fault entries, which only a server can play; they are not turns, so turn N
is the N-th entry that is not a fault:
    {"http_error": 529, "retry_after": 1, "times": 2, "message": "optional"}
    {"drop_connection": true}          close the socket without any response
    {"cut_stream": true}               send part of the answer, then close
    {"cut_stream": true, "clean": true}  the same, but the stream ends well-formed (no stop reason)
    {"sse_error": "overloaded_error", "message": "optional"}
        a streamed request gets its 200, `message_start` and then an SSE `error` event of that
        type; a request that is not streamed gets that error as the matching HTTP status
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

from diffcrew.tools.tokens import estimate_tokens

FORMAT = "diffcrew-script/1"
# In priority order (model-protocol §3): a review request also offers plan_edits-like tools.
ROLE_BY_TOOL = {"amend_plan": "review", "plan_edits": "orchestrator", "submit_patch": "worker",
                "write_summary": "synthesizer"}
FAULT_KEYS = ("http_error", "drop_connection", "cut_stream", "sse_error")
_FILE_LINE = re.compile(r"^File: (.+?)\s*$", re.MULTILINE)


class ScriptError(ValueError):
    """A script is malformed or has no answer for a request."""


def load_script(text: str) -> dict[str, list[dict[str, Any]]]:
    """Parse a script's JSON text and return its turns by key."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScriptError(f"script is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ScriptError(f"script must be an object with \"format\": \"{FORMAT}\"")
    turns = data.get("turns")
    if not isinstance(turns, dict) or not all(isinstance(v, list) for v in turns.values()):
        raise ScriptError("script \"turns\" must map keys to lists of turns")
    return turns


def script_key(role: str, path: str | None = None) -> str:
    """The key of a role's answers: "worker:<path>" for workers, the role name otherwise."""
    return f"{role}:{path}" if role == "worker" else role


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text")
    return ""


def key_for_request(body: dict[str, Any]) -> str:
    """Derive a request's script key from its tools and, for workers, its `File: <path>` line."""
    names = [t.get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
    role = next((role for tool, role in ROLE_BY_TOOL.items() if tool in names), None)
    if role is None:
        raise ScriptError(f"cannot tell the role of a request with tools {names}")
    if role != "worker":
        return role
    messages = body.get("messages") or []
    content = messages[0].get("content") if messages and isinstance(messages[0], dict) else ""
    # The worker's own block comes last, and its `File:` line comes before the file's content;
    # repository text (the shared context before it, the content after it) may hold such lines too.
    blocks = ([b for b in content if isinstance(b, dict) and b.get("type") == "text"]
              if isinstance(content, list) else [])
    found = _FILE_LINE.search(blocks[-1].get("text", "") if blocks else _text_of(content))
    found = found or _FILE_LINE.search(_text_of(content))
    if found is None:
        raise ScriptError("a worker request must hold a 'File: <path>' line in its first message")
    return script_key("worker", found.group(1))


def is_fault(turn: Any) -> bool:
    """A transport fault entry, which a server plays and which is not counted as a turn."""
    return isinstance(turn, dict) and any(k in turn for k in FAULT_KEYS)


def turn_index(body: dict[str, Any]) -> int:
    """How many assistant turns the request already holds: the index of the answer it gets."""
    return sum(1 for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "assistant")


def _cut_tool(block: dict[str, Any], cut_at: int | None) -> dict[str, Any]:
    """A tool_use block whose input was cut at max_tokens: `_partial_json` is the JSON text streamed
    (a server strips the key from JSON answers), `input` what the SDK's stream accumulator parses
    it to (`jiter.from_json(..., partial_mode=True)`: a string cut mid-way is left out)."""
    import jiter  # a dependency of the anthropic SDK, which parses streamed tool input the same way

    raw = json.dumps(block["input"], ensure_ascii=False)
    partial = raw[:len(raw) // 2 if cut_at is None else cut_at]
    parsed = jiter.from_json(partial.encode(), partial_mode=True) if partial else {}
    return dict(block, input=parsed, _partial_json=partial)


def _refusal(turn: dict[str, Any]) -> dict[str, Any]:
    """`stop_details` for a refusal turn: {"type": "refusal", "category": ..., "explanation": ...}."""
    given = turn["refusal"]
    if isinstance(given, dict):
        return {"type": "refusal", "category": given.get("category"), "explanation": given.get("explanation")}
    return {"type": "refusal", "category": given if isinstance(given, str) else None, "explanation": None}


def _content_of(turn: dict[str, Any], digest: str) -> tuple[list[dict[str, Any]], str]:
    """A turn's content blocks and stop reason."""
    text = [{"type": "text", "text": turn["text"]}] if turn.get("text") else []
    if "content" in turn:
        return turn["content"], turn.get("stop_reason", "end_turn")
    if "refusal" in turn:
        return text, "refusal"
    if turn.get("context_window_exceeded"):
        return text, "model_context_window_exceeded"
    if "tool" in turn:
        block = {"type": "tool_use", "id": f"toolu_{digest}", "name": turn["tool"], "input": turn.get("input", {})}
        stop_reason = turn.get("stop_reason", "tool_use")
        if stop_reason == "max_tokens":
            block = _cut_tool(block, turn.get("cut_at"))
        return [*text, block], stop_reason
    if "text" in turn:
        return text, turn.get("stop_reason", "end_turn")
    raise ScriptError("has none of tool, text, content, refusal or context_window_exceeded")


def reply_for_turn(turn: dict[str, Any], body: dict[str, Any], key: str, index: int) -> dict[str, Any]:
    """Build a complete Messages API response object for one scripted turn."""
    if is_fault(turn):
        raise ScriptError(f"turn {index + 1} of {key!r} is a transport fault, which only a server can play")
    turn = copy.deepcopy(turn)
    digest = hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:20]
    try:
        content, stop_reason = _content_of(turn, digest)
    except ScriptError as exc:
        raise ScriptError(f"turn {index + 1} of {key!r} {exc}") from None
    usage = {"input_tokens": estimate_tokens(body.get("messages", [])), "output_tokens": estimate_tokens(content),
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    if stop_reason == "max_tokens" and isinstance(body.get("max_tokens"), int):
        usage["output_tokens"] = body["max_tokens"]  # the answer stopped because it used them all
    usage.update(turn.get("usage") or {})
    return {"id": f"msg_{digest}", "type": "message", "role": "assistant", "model": body.get("model", "scripted"),
            "content": content, "stop_reason": stop_reason, "stop_sequence": None,
            "stop_details": _refusal(turn) if stop_reason == "refusal" and "refusal" in turn else None,
            "usage": usage}


def turn_for(turns: dict[str, list[dict[str, Any]]], body: dict[str, Any]) -> tuple[str, int, dict[str, Any]]:
    """(key, turn index, turn) answering a request body, or ScriptError when the script has none."""
    key = key_for_request(body)
    index = turn_index(body)
    options = turns.get(key)
    options = None if options is None else [t for t in options if not is_fault(t)]
    if options is None:
        raise ScriptError(f"the script has no answers for {key!r}")
    if index >= len(options):
        raise ScriptError(f"the script has {len(options)} answer(s) for {key!r}; turn {index + 1} was asked for")
    return key, index, options[index]


def answer(turns: dict[str, list[dict[str, Any]]], body: dict[str, Any]) -> dict[str, Any]:
    """The scripted response for a request body, or ScriptError when the script has none."""
    key, index, turn = turn_for(turns, body)
    return reply_for_turn(turn, body, key, index)
