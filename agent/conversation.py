"""Conversations with the model as the wire contract wants them (model-protocol.md v2, §1-2).

Three rules live here, once, for every role:
- tools are offered as `strict` tools (diffcrew.tools.strict), and `tool_choice` is always
  `auto` (today's models refuse a forced choice): the system prompt names the tool that ends
  the turn, and `expect_call` checks that it was called;
- a conversation is append-only: an assistant turn goes back exactly as it came, thinking and
  redacted_thinking blocks included, in order (`assistant_turn`);
- an answer is read by its stop reason: a refusal or an overflowing context ends the role at
  once; a text-only answer, another tool, or a call cut at `max_tokens` is answered in the same
  conversation (`follow_up`) and costs the role one repair round (a cut answer at most twice).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from diffcrew import prompts
from diffcrew.agent.errors import ModelError

if TYPE_CHECKING:
    from diffcrew.agent.llm.protocol import ModelReply


class ModelRefused(ModelError):
    """The model declined the request (stop reason `refusal`); asking again will not help."""


class ContextTooLong(ModelError):
    """The prompt did not fit the model's context window; it must be made smaller, not retried."""


CONTEXT_ADVICE = "lower --context-tokens or --max-file-bytes, or plan fewer files"


def assistant_turn(reply: ModelReply) -> dict[str, Any]:
    """The reply as the next assistant turn, every block exactly as returned (the API refuses an
    empty turn, which only a broken answer has; that one gets a placeholder)."""
    return {"role": "assistant", "content": list(reply.content) or [{"type": "text", "text": "(no answer)"}]}


def follow_up(reply: ModelReply, problem: str) -> list[dict[str, Any]]:
    """The assistant turn and the user turn that tells the model what was wrong (repair / re-ask).

    Every tool call gets its `tool_result` (the API requires one per call), flagged `is_error`;
    an answer without calls gets a plain user message.
    """
    calls = reply.tool_calls()
    if not calls:
        return [assistant_turn(reply), {"role": "user", "content": [{"type": "text", "text": problem}]}]
    results = [{"type": "tool_result", "tool_use_id": c["id"], "is_error": True, "content": problem} for c in calls]
    return [assistant_turn(reply), {"role": "user", "content": results}]


def end_of_role(reply: ModelReply, role: str) -> ModelError | None:
    """The error that ends a role at once for this answer, if any (§2: not retried)."""
    if reply.stop_reason == "refusal":
        why = f" ({reply.refusal})" if reply.refusal else ""
        return ModelRefused(f"the model declined the {role} request{why}; rephrase the request or choose "
                            "another model (it is not retried)")
    if reply.stop_reason == "model_context_window_exceeded":
        usage = reply.usage
        sent = usage.input_tokens + usage.cache_read_tokens + usage.cache_write_tokens
        return ContextTooLong(f"the {role} conversation outgrew the model's context window "
                              f"({sent:,} input tokens); {CONTEXT_ADVICE}")
    return None


def expect_call(reply: ModelReply, name: str | tuple[str, ...], role: str) -> tuple[dict[str, Any] | None, str]:
    """The one call of tool `name` (or of one of the tools `name` lists) in a reply, or the problem
    to send back instead.

    Raises ModelRefused / ContextTooLong when the answer ends the role. A call in an answer cut
    at `max_tokens` is never used: its input may be cut too.
    """
    ended = end_of_role(reply, role)
    if ended is not None:
        raise ended
    names = (name,) if isinstance(name, str) else name
    name = "` or `".join(names)  # as the re-ask texts quote it: `a` or `b`
    if reply.stop_reason == "max_tokens":
        return None, prompts.render("reask", "cut", tool=name)
    calls = reply.tool_calls()
    wanted = [c for c in calls if c.get("name") in names]
    if not calls:
        return None, prompts.render("reask", "text_only", tool=name)
    if not wanted:
        called = ", ".join(sorted({str(c.get('name')) for c in calls}))
        return None, prompts.render("reask", "other_tool", tool=name, called=called)
    if len(wanted) > 1:
        return None, prompts.render("reask", "repeated", tool=name, count=str(len(wanted)))
    if not isinstance(wanted[0].get("input"), dict) or not wanted[0]["input"]:
        return None, prompts.render("reask", "empty_input", tool=name)
    return wanted[0], ""
