"""The message a validated request gets: the scripted turn, its thinking block and its usage.

Source keys (ERR, TH, TT, PT, CW, PC, EF, WN) are the pages listed in models.py.
Owns what the fake adds to a scripted answer so that it reads like the real API's:
  * a model that thinks for the request (`rules.Request.thinking`) opens the answer with a
    thinking block, unless the turn says "thinking": false or its raw content has its own;
    every thinking block is signed and remembered by the `ThinkingLedger` ("display": "omitted",
    the default of the newer models, sends its text empty, TH "Controlling thinking display");
  * usage as the API reports it: input_tokens is the whole prompt's estimate (the cache
    simulation then splits it, see cache.py); output_tokens counts the thinking ("the tokens
    Claude spends reasoning are billed as output tokens, even when the thinking text isn't
    returned", TH), with `output_tokens_details.thinking_tokens`; an answer cut at max_tokens
    used all of them. Scripted usage values are kept as given.
"""

from __future__ import annotations

import copy
from typing import Any

from diffcrew.agent.script import reply_for_turn, turn_for

from .cache import estimate_tokens, prompt_tokens
from .rules import Request
from .thinking import THINKING_TYPES, ThinkingLedger

Turns = dict[str, list[dict[str, Any]]]


def default_thinking(key: str, index: int) -> str:
    return (f"Turn {index + 1} of {key}: read the request, weigh the tools offered, "
            "and decide which one to call and with what input.")


def _with_thinking(content: list[dict[str, Any]], turn: dict[str, Any], request: Request, key: str,
                   index: int) -> list[dict[str, Any]]:
    """The content with a leading thinking block where the model thinks and the turn does not opt out."""
    wanted = turn.get("thinking", True)
    if not request.thinking or wanted is False or any(b.get("type") in THINKING_TYPES for b in content):
        return content
    text = wanted if isinstance(wanted, str) else default_thinking(key, index)
    return [{"type": "thinking", "thinking": text}, *content]


def build_answer(turns: Turns, body: dict[str, Any], request: Request, ledger: ThinkingLedger) -> dict[str, Any]:
    """The complete message for a request (ScriptError when the script has no answer for it)."""
    key, index, turn = turn_for(turns, body)
    message = reply_for_turn(turn, body, key, index)
    content = _with_thinking(message["content"], turn, request, key, index)
    thinking = sum(estimate_tokens(str(b.get("thinking") or b.get("data") or ""))
                   for b in content if b.get("type") in THINKING_TYPES)
    message["content"] = ledger.sign(body, request, content)
    scripted = turn.get("usage") or {}
    usage = message["usage"]
    if "input_tokens" not in scripted:
        usage["input_tokens"] = prompt_tokens(body)
    if thinking:
        if "output_tokens" not in scripted and message["stop_reason"] != "max_tokens":
            usage["output_tokens"] += thinking
        usage["output_tokens_details"] = {"thinking_tokens": min(thinking, usage["output_tokens"])}
    return message


def public(message: dict[str, Any]) -> dict[str, Any]:
    """The message as a JSON answer carries it: without the streamed-only `_partial_json` of a cut input."""
    shown = copy.deepcopy(message)
    for block in shown.get("content") or []:
        block.pop("_partial_json", None)
    return shown
