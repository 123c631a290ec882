"""Scripts of model answers: the format shared by the scripted model (demo, replay) and test fakes.

A script is JSON:

    {"format": "diffcrew-script/1",
     "turns": {"orchestrator": [TURN, ...],
               "worker:<path>": [TURN, ...],
               "synthesizer": [TURN, ...]}}

A request is answered by the script's list for its key (see `key_for_request`), at the index
given by how many assistant turns the request already holds. That makes answers depend only on
the request, never on arrival order, so concurrent workers and retried calls get the right one.

A TURN is one of
    {"tool": NAME, "input": {...}, "text": "optional words before the call"}
    {"text": "plain words, no tool call"}
    {"content": [...blocks...], "stop_reason": "..."}          (raw Messages API content)
and may carry "usage": {"input_tokens": N, "output_tokens": N, ...}. Lists may also hold fault
entries ({"http_error": 529, "retry_after": 1}, {"drop_connection": true}, {"cut_stream": true})
that only a server can play; they are not turns, so turn N is the N-th entry that is not a fault.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from typing import Any

FORMAT = "diffcrew-script/1"
ROLE_BY_TOOL = {"plan_edits": "orchestrator", "submit_patch": "worker", "write_summary": "synthesizer"}
FAULT_KEYS = ("http_error", "drop_connection", "cut_stream")
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
    role = next((ROLE_BY_TOOL[n] for n in names if n in ROLE_BY_TOOL), None)
    if role is None:
        raise ScriptError(f"cannot tell the role of a request with tools {names}")
    if role != "worker":
        return role
    messages = body.get("messages") or []
    content = messages[0].get("content") if messages and isinstance(messages[0], dict) else ""
    # The worker's own block comes last, and its `File:` line comes before the file's content;
    # repository text (the shared context before it, the content after it) may hold such lines too.
    blocks = [b for b in content if isinstance(b, dict) and b.get("type") == "text"] if isinstance(content, list) else []
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


def estimate_tokens(value: Any) -> int:
    """A rough offline token count (about four characters a token)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return max(1, len(text) // 4)


def reply_for_turn(turn: dict[str, Any], body: dict[str, Any], key: str, index: int) -> dict[str, Any]:
    """Build a complete Messages API response object for one scripted turn."""
    if is_fault(turn):
        raise ScriptError(f"turn {index + 1} of {key!r} is a transport fault, which only a server can play")
    turn = copy.deepcopy(turn)
    digest = hashlib.sha256(f"{key}#{index}".encode()).hexdigest()[:20]
    if "content" in turn:
        content = turn["content"]
        stop_reason = turn.get("stop_reason", "end_turn")
    elif "tool" in turn:
        content = [{"type": "text", "text": turn["text"]}] if turn.get("text") else []
        content.append({"type": "tool_use", "id": f"toolu_{digest}", "name": turn["tool"],
                        "input": turn.get("input", {})})
        stop_reason = turn.get("stop_reason", "tool_use")
    elif "text" in turn:
        content = [{"type": "text", "text": turn["text"]}]
        stop_reason = turn.get("stop_reason", "end_turn")
    else:
        raise ScriptError(f"turn {index + 1} of {key!r} has none of tool, text or content")
    usage = {"input_tokens": estimate_tokens(body.get("messages", [])), "output_tokens": estimate_tokens(content),
             "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}
    usage.update(turn.get("usage") or {})
    return {"id": f"msg_{digest}", "type": "message", "role": "assistant", "model": body.get("model", "scripted"),
            "content": content, "stop_reason": stop_reason, "stop_sequence": None, "usage": usage}


def answer(turns: dict[str, list[dict[str, Any]]], body: dict[str, Any]) -> dict[str, Any]:
    """The scripted response for a request body, or ScriptError when the script has none."""
    key = key_for_request(body)
    index = turn_index(body)
    options = turns.get(key)
    options = None if options is None else [t for t in options if not is_fault(t)]
    if options is None:
        raise ScriptError(f"the script has no answers for {key!r}")
    if index >= len(options):
        raise ScriptError(f"the script has {len(options)} answer(s) for {key!r}; turn {index + 1} was asked for")
    return reply_for_turn(options[index], body, key, index)
