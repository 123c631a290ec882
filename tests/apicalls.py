"""Helpers for the tests that talk to the fake Messages API through the real SDK: clients, tools, bodies.

Shared by test_fake_rules.py (what the fake refuses) and test_fake_emission.py (what it sends).
"""

from __future__ import annotations

from typing import Any, Callable

import anthropic
import pytest

from fakes.server import FakeMessagesServer

MODEL = "claude-sonnet-5-5"  # diffcrew's default model: thinks by default, refuses a forced tool_choice

PATCH_SCHEMA = {"type": "object", "properties": {"patch": {"type": "string"}, "note": {"type": "string"}},
                "required": ["patch"], "additionalProperties": False}
SUBMIT_PATCH = {"name": "submit_patch", "description": "Submit the diff of the file.", "strict": True,
                "input_schema": PATCH_SCHEMA}
READ_FILE = {"name": "read_file", "description": "Read a file of the base commit.", "strict": True,
             "input_schema": {"type": "object", "properties": {"path": {"type": "string"}},
                              "required": ["path"], "additionalProperties": False}}
FORCED_TOOL_CHOICE = 'tool_choice: type "tool" and "any" are not supported for this model.'
WORKER_PROMPT = "Change request: rename foo\n\nFile: a.py\n\nInstructions: rename foo to bar\n"


def client(server: FakeMessagesServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key="k", max_retries=0)


def worker_body(model: str = MODEL, **extra: Any) -> dict[str, Any]:
    """A valid worker request for a.py: strict tools, tool_choice auto, the last message a user's."""
    body: dict[str, Any] = {"model": model, "max_tokens": 4096, "tools": [READ_FILE, SUBMIT_PATCH],
                            "tool_choice": {"type": "auto"}, "system": "You edit one file.",
                            "messages": [{"role": "user", "content": WORKER_PROMPT}]}
    body.update(extra)
    return body


def patch_turns(*patches: str, **extra: Any) -> dict[str, list[dict[str, Any]]]:
    """A worker script for a.py: one submit_patch answer per patch."""
    return {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": p}, **extra} for p in patches]}


def echo(body: dict[str, Any], answer: anthropic.types.Message, result: str = "it does not apply") -> dict[str, Any]:
    """The follow-up request a correct client sends: the answer exactly as returned, then the tool results."""
    results = [{"type": "tool_result", "tool_use_id": b.id, "content": result, "is_error": True}
               for b in answer.content if b.type == "tool_use"]
    returned = [b.model_dump(exclude_none=True) for b in answer.content]
    return dict(body, messages=[*body["messages"], {"role": "assistant", "content": returned},
                                {"role": "user", "content": results or "go on"}])


def refusal(call: Callable[[], Any], error: type[anthropic.APIStatusError] = anthropic.BadRequestError) -> str:
    """The message of the error `call` raises (a 400 unless said otherwise), checking the API's error shape."""
    with pytest.raises(error) as info:
        call()
    body = info.value.body
    assert body["type"] == "error" and set(body["error"]) == {"type", "message"}
    assert body["request_id"] == info.value.response.headers["request-id"]
    return body["error"]["message"]
