"""The request rules of the Messages API that the fake server enforces, with the API's own messages.

Owns the validation of one request body (messages and count_tokens alike) against the model
table of `models.py`: the model id, `max_tokens`, sampling parameters, `thinking` and
`output_config.effort`, forced `tool_choice`, strict tools (`strict_tools.py`), prefill, empty
text blocks, `cache_control`, tool_use / tool_result pairing and the context window. The
thinking blocks of the history are checked by `thinking.py`, which remembers what was emitted.

Source keys (ERR, TH, TT, PT, CW, PC, EF, WN) are the pages listed in models.py.
A refused request raises `ApiError`; the server sends it as the API does:
`{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}` (api/errors,
"Error shapes"). Where the docs quote a message it is used verbatim; the others are the
wording observed from the real API in public code, noted where used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .cache import as_blocks, prompt_tokens
from .models import ModelRules, effort_rank, rules_for, thinking_message
from .strict_tools import check_strict_tools


class ApiError(Exception):
    """An error answer: HTTP status, error type and message, as the API would send them."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class Request:
    """A validated request: its model's rules and the thinking it gets."""
    model: str
    rules: ModelRules
    thinking: bool        # the answer opens with a thinking block (unless the script says otherwise)
    display: str          # "omitted": the thinking text comes back empty (TH "Controlling thinking display")
    effort: str | None


def validate(body: dict[str, Any], endpoint: str = "messages") -> Request:
    """Check a request body as the API would; raise `ApiError` for the first rule it breaks."""
    rules = _model(body)
    if endpoint == "messages":
        _max_tokens(body, rules)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: Field required" if messages is None else "messages: at least one message is required")
    effort = _effort(body, rules)
    thinking = _thinking(body, rules, effort)
    _sampling(body, rules, thinking)
    _tool_choice(body, rules, thinking)
    check_strict_tools(body.get("tools"), invalid)
    _prefill(messages, rules, thinking)
    _empty_text(body)
    _cache_control(body)
    _tool_pairs(messages)
    _context(body, rules)
    display = ((body.get("thinking") or {}).get("display") or rules.display_default)
    return Request(body["model"], rules, thinking, display, effort)


def _model(body: dict[str, Any]) -> ModelRules:
    model = body.get("model")
    if not isinstance(model, str):
        raise invalid("model: Field required")
    rules = rules_for(model)
    if rules is None:  # the observed 404 body: {"type": "not_found_error", "message": "model: <id>"}
        raise ApiError(404, "not_found_error", f"model: {model}")
    return rules


def _max_tokens(body: dict[str, Any], rules: ModelRules) -> None:
    asked = body.get("max_tokens")
    if not isinstance(asked, int):
        raise invalid("max_tokens: Field required")
    if asked > rules.max_output:  # observed wording, e.g. "max_tokens: 9999999 > 128000, which is ..."
        raise invalid(f"max_tokens: {asked} > {rules.max_output}, which is the maximum allowed number of "
                      f"output tokens for {body['model']}")


def _effort(body: dict[str, Any], rules: ModelRules) -> str | None:
    """The effort the request runs at (EF: omitted means the model's default)."""
    config = body.get("output_config") or {}
    effort = config.get("effort") if isinstance(config, dict) else None
    if effort is None:
        return rules.effort_default
    if not rules.effort_levels:  # Haiku 4.5: observed "output_config.effort: Extra inputs are not permitted"
        raise invalid("output_config.effort: Extra inputs are not permitted")
    if effort not in rules.effort_levels:  # wording not documented; observed form
        raise invalid(f'output_config.effort: value "{effort}" is not supported for this model')
    return effort


def _thinking(body: dict[str, Any], rules: ModelRules, effort: str | None) -> bool:
    """Whether the model thinks for this request; 400 for a thinking.type the model refuses (TT, ERR)."""
    config = body.get("thinking")
    if config is None:
        return rules.thinks_by_default()
    kind = config.get("type") if isinstance(config, dict) else None
    if kind not in ("adaptive", "enabled", "disabled", "between_tools"):
        raise invalid("thinking.type: Input should be 'adaptive', 'enabled', 'disabled' or 'between_tools'")
    if kind in rules.thinking_refused:
        raise invalid(thinking_message(rules, kind))
    ceiling = {"disabled": rules.disabled_up_to, "between_tools": rules.between_tools_up_to}.get(kind)
    if ceiling and effort and effort_rank(effort) > effort_rank(ceiling):
        # TT: Opus 5 "combining it with effort xhigh or max returns a 400 error"; WN:sonnet-5-5 likewise
        # for between_tools. The wording is not documented.
        raise invalid(f'"thinking.type.{kind}" cannot be combined with output_config.effort "{effort}" on this '
                      f"model; use effort {ceiling} or lower.")
    if kind == "enabled":
        _budget(config, body)
    return kind in ("adaptive", "enabled")


def _budget(config: dict[str, Any], body: dict[str, Any]) -> None:
    """SDK ThinkingConfigEnabledParam: budget_tokens "Must be ≥1024 and less than max_tokens"."""
    budget = config.get("budget_tokens")
    if not isinstance(budget, int) or budget < 1024:
        raise invalid("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    if isinstance(body.get("max_tokens"), int) and budget >= body["max_tokens"]:
        raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")


def _sampling(body: dict[str, Any], rules: ModelRules, thinking: bool) -> None:
    """TH: on 4.7+ / 5.x "non-default temperature, top_p, or top_k values return a 400 error on every
    request"; on older models only while thinking is on (temperature 1, top_p >= 0.95, no top_k)."""
    given = {name: body[name] for name in ("temperature", "top_p", "top_k") if body.get(name) is not None}
    if rules.sampling_always_refused:
        for name, value in given.items():
            if name == "top_k" or value != 1:  # observed: "`temperature` is deprecated for this model."
                raise invalid(f"`{name}` is deprecated for this model.")
        return
    if not thinking:
        return
    if given.get("temperature", 1) != 1:  # observed wording
        raise invalid("`temperature` may only be set to 1 when thinking is enabled or in adaptive mode")
    if given.get("top_p", 1) < 0.95:
        raise invalid("`top_p` must be greater than or equal to 0.95 or unset when thinking is enabled or in adaptive mode")
    if "top_k" in given:
        raise invalid("`top_k` must be unset when thinking is enabled or in adaptive mode")


def _tool_choice(body: dict[str, Any], rules: ModelRules, thinking: bool) -> None:
    choice = body.get("tool_choice") or {}
    if not isinstance(choice, dict) or choice.get("type") not in ("tool", "any"):
        return
    if not rules.forced_tool_choice:  # ERR "Forced tool use not supported", verbatim
        raise invalid('tool_choice: type "tool" and "any" are not supported for this model.')
    if (body.get("thinking") or {}).get("type") == "enabled":
        # TH: manual extended thinking "only supports tool_choice auto or none"; observed wording
        raise invalid("Thinking may not be enabled when tool_choice forces tool use.")


def _prefill(messages: list[Any], rules: ModelRules, thinking: bool) -> None:
    last = messages[-1]
    if isinstance(last, dict) and last.get("role") == "assistant" and (rules.prefill_refused or thinking):
        # ERR "Prefill not supported", verbatim; TH: no prefill while thinking is on, on any model
        raise invalid("This model does not support assistant message prefill. "
                      "The conversation must end with a user message.")


def _text_blocks(body: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """("system" or "messages", text) for every text block, also inside tool_result content."""
    for block in as_blocks(body.get("system")):
        if isinstance(block, dict) and block.get("type") == "text":
            yield "system", block.get("text")
    for message in body.get("messages") or []:
        for block in as_blocks(message.get("content") if isinstance(message, dict) else None):
            if not isinstance(block, dict):
                continue
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for part in [block, *(inner if isinstance(inner, list) else [])]:
                if isinstance(part, dict) and part.get("type") == "text":
                    yield "messages", part.get("text")


def _empty_text(body: dict[str, Any]) -> None:
    """Observed wording (not in the docs): "messages: text content blocks must be non-empty",
    "... must contain non-whitespace text"; the same with "system:" for the system prompt."""
    for where, text in _text_blocks(body):
        if not isinstance(text, str) or not text:
            raise invalid(f"{where}: text content blocks must be non-empty")
        if not text.strip():
            raise invalid(f"{where}: text content blocks must contain non-whitespace text")


def _marked(body: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, block) for every block that may carry cache_control: tools, system, message blocks, nested."""
    for n, tool in enumerate(body.get("tools") or []):
        yield f"tools.{n}", tool
    for n, block in enumerate(as_blocks(body.get("system"))):
        yield f"system.{n}", block
    for i, message in enumerate(body.get("messages") or []):
        for j, block in enumerate(as_blocks(message.get("content") if isinstance(message, dict) else None)):
            if not isinstance(block, dict):
                continue
            yield f"messages.{i}.content.{j}", block
            inner = block.get("content") if block.get("type") == "tool_result" else None
            for k, part in enumerate(inner if isinstance(inner, list) else []):
                if isinstance(part, dict):
                    yield f"messages.{i}.content.{j}.content.{k}", part


def _cache_control(body: dict[str, Any]) -> None:
    """PC: "Thinking blocks cannot be cached directly with cache_control"; "You can define up to 4
    cache breakpoints", and a top-level (automatic) cache_control uses one of the slots. Wording observed."""
    found = 1 if body.get("cache_control") else 0
    for path, block in _marked(body):
        if not isinstance(block, dict) or "cache_control" not in block:
            continue
        if block.get("type") in ("thinking", "redacted_thinking"):
            raise invalid(f"{path}.{block['type']}.cache_control: Extra inputs are not permitted")
        found += 1
    if found > 4:
        raise invalid(f"A maximum of 4 blocks with cache_control may be provided. Found {found}.")


def _tool_pairs(messages: list[Any]) -> None:
    """Every tool_use is answered by a tool_result at the start of the next message, and every
    tool_result answers a tool_use of the message before (observed wording; the tool-use docs:
    "tool_result blocks must come FIRST in the content array")."""
    asked: list[str] = []
    for i, message in enumerate(messages):
        blocks = [b for b in as_blocks(message.get("content") if isinstance(message, dict) else None)
                  if isinstance(b, dict)]
        leading = []
        for block in blocks:
            if block.get("type") != "tool_result":
                break
            leading.append(block.get("tool_use_id"))
        for j, block in enumerate(blocks):
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in asked:
                raise invalid(f"messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: "
                              f"{block.get('tool_use_id')}. Each `tool_result` block must have a corresponding "
                              "`tool_use` block in the previous message.")
        missing = [t for t in asked if t not in leading]
        if missing:
            raise invalid(f"messages.{i - 1}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                          f"{', '.join(missing)}. Each `tool_use` block must have a corresponding `tool_result` "
                          "block in the next message.")
        asked = [b.get("id") for b in blocks if b.get("type") == "tool_use"]


def _context(body: dict[str, Any], rules: ModelRules) -> None:
    """CW: "If the input alone already exceeds the model's context window, the API returns a 400
    invalid_request_error ("prompt is too long")"; observed: "prompt is too long: N tokens > M maximum"."""
    size = prompt_tokens(body)
    if size > rules.context_window:
        raise invalid(f"prompt is too long: {size} tokens > {rules.context_window} maximum")


__all__ = ["ApiError", "Request", "invalid", "validate"]
