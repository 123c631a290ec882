"""The fake Messages API refuses what the real API refuses, with its status and message (via the real SDK).

One test (or one parametrized family) per documented rule; each also shows the valid shape
accepted, so a fake that refused everything would fail too.
"""

from __future__ import annotations

import typing
from functools import partial

import anthropic
import pytest

from apicalls import FORCED_TOOL_CHOICE as FORCED
from apicalls import MODEL, PATCH_SCHEMA, SUBMIT_PATCH, client, patch_turns, refusal, worker_body
from fakes.models import MODELS
from fakes.server import FakeMessagesServer


@pytest.fixture
def server():
    with FakeMessagesServer(patch_turns("p1", "p2")) as srv:
        yield srv


def test_the_model_table_knows_exactly_the_sdks_model_ids():
    literal = typing.get_args(typing.get_args(anthropic.types.Model)[0])
    assert set(MODELS) == set(literal)


def test_an_unknown_model_is_not_found(server):
    message = refusal(lambda: client(server).messages.create(**worker_body("claude-test")), anthropic.NotFoundError)
    assert message == "model: claude-test"
    assert server.requests[0].status == 404


@pytest.mark.slow
@pytest.mark.parametrize("model", ["claude-opus-5-5", "claude-sonnet-5-5", "claude-fable-5-1", "claude-mythos-5-1",
                                   "claude-fable-5-2"])
@pytest.mark.parametrize("choice", [{"type": "tool", "name": "submit_patch"}, {"type": "any"}])
def test_forced_tool_choice_is_refused_where_the_model_refuses_it(server, model, choice):
    assert refusal(lambda: client(server).messages.create(**worker_body(model, tool_choice=choice))) == FORCED
    assert refusal(lambda: client(server).messages.count_tokens(
        model=model, messages=worker_body()["messages"], tools=[SUBMIT_PATCH], tool_choice=choice)) == FORCED


def test_forced_tool_choice_is_accepted_where_the_model_allows_it(server):
    forced = {"type": "tool", "name": "submit_patch"}
    for model in ("claude-opus-4-8", "claude-haiku-5-5"):
        assert client(server).messages.create(**worker_body(model, tool_choice=forced)).stop_reason == "tool_use"
    for choice in ({"type": "auto"}, {"type": "none"}):
        assert client(server).messages.create(**worker_body(tool_choice=choice)).stop_reason == "tool_use"


def test_forced_tool_choice_with_extended_thinking_is_refused(server):
    body = worker_body("claude-sonnet-4-6", tool_choice={"type": "any"}, thinking={"type": "enabled", "budget_tokens": 2048})
    assert refusal(lambda: client(server).messages.create(**body)) == \
        "Thinking may not be enabled when tool_choice forces tool use."


@pytest.mark.parametrize("name, value", [("temperature", 0.2), ("top_p", 0.5), ("top_k", 5)])
def test_sampling_parameters_are_refused_on_the_newer_models(server, name, value):
    body = worker_body(extra_body={name: value})
    assert refusal(lambda: client(server).messages.create(**body)) == f"`{name}` is deprecated for this model."
    assert client(server).messages.create(**worker_body(extra_body={"temperature": 1})).stop_reason == "tool_use"


def test_sampling_parameters_on_older_models_are_refused_only_while_thinking(server):
    body = worker_body("claude-opus-4-6", extra_body={"temperature": 0.2})
    assert client(server).messages.create(**body).stop_reason == "tool_use"  # thinking off by default
    assert refusal(lambda: client(server).messages.create(**dict(body, thinking={"type": "adaptive"}))) == \
        "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode"


@pytest.mark.filterwarnings("ignore:The model 'claude-mythos-preview' is deprecated")
@pytest.mark.parametrize("model, kind, start", [
    ("claude-opus-5-5", "disabled", '"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive"'),
    ("claude-sonnet-5-5", "disabled", '"thinking.type.disabled" is not supported for this model. Use "thinking.type.between_tools"'),
    ("claude-mythos-preview", "disabled", '"thinking.type.disabled" is not supported for this model. Thinking defaults'),
    ("claude-sonnet-5-5", "enabled", '"thinking.type.enabled" is not supported for this model.'),
    ("claude-opus-4-8", "between_tools", '"thinking.type.between_tools" is not supported for this model.'),
    ("claude-haiku-4-5", "adaptive", "adaptive thinking is not supported on this model"),
])
def test_thinking_types_the_model_refuses(server, model, kind, start):
    thinking = {"type": kind, "budget_tokens": 2048} if kind == "enabled" else {"type": kind}
    assert refusal(lambda: client(server).messages.create(**worker_body(model, thinking=thinking))).startswith(start)


def test_turning_thinking_off_where_allowed_and_only_at_low_enough_effort(server):
    c = client(server)
    between = worker_body(thinking={"type": "between_tools"})
    assert [b.type for b in c.messages.create(**between).content] == ["tool_use"]  # no thinking block
    assert "cannot be combined" in refusal(lambda: c.messages.create(**dict(between, output_config={"effort": "max"})))
    disabled = worker_body("claude-opus-5", thinking={"type": "disabled"})
    assert [b.type for b in c.messages.create(**dict(disabled, output_config={"effort": "high"})).content] == ["tool_use"]
    assert "cannot be combined" in refusal(lambda: c.messages.create(**dict(disabled, output_config={"effort": "xhigh"})))


def test_effort_levels_the_model_does_not_support(server):
    c = client(server)
    assert refusal(lambda: c.messages.create(**worker_body("claude-sonnet-4-6", output_config={"effort": "xhigh"}))) == \
        'output_config.effort: value "xhigh" is not supported for this model'
    assert refusal(lambda: c.messages.create(**worker_body("claude-haiku-4-5", output_config={"effort": "low"}))) == \
        "output_config.effort: Extra inputs are not permitted"
    assert c.messages.create(**worker_body("claude-sonnet-4-6", output_config={"effort": "max"})).stop_reason == "tool_use"


def test_prefill_is_refused(server):
    body = worker_body(messages=[*worker_body()["messages"], {"role": "assistant", "content": "The patch is"}])
    assert refusal(lambda: client(server).messages.create(**body)) == (
        "This model does not support assistant message prefill. The conversation must end with a user message.")


@pytest.mark.parametrize("change, message", [
    ({"system": [{"type": "text", "text": "  \n"}]}, "system: text content blocks must contain non-whitespace text"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "File: a.py"}, {"type": "text", "text": ""}]}]},
     "messages: text content blocks must be non-empty"),
    ({"messages": [{"role": "user", "content": " "}]}, "messages: text content blocks must contain non-whitespace text"),
])
def test_empty_or_whitespace_text_blocks_are_refused(server, change, message):
    assert refusal(lambda: client(server).messages.create(**worker_body(**change))) == message


def test_more_than_four_cache_breakpoints_are_refused(server):
    mark = {"type": "ephemeral"}
    blocks = [{"type": "text", "text": f"part {n}", "cache_control": mark} for n in range(4)]
    body = worker_body(system=[{"type": "text", "text": "rules", "cache_control": mark}],
                       messages=[{"role": "user", "content": [{"type": "text", "text": "File: a.py"}, *blocks]}])
    assert refusal(lambda: client(server).messages.create(**body)) == \
        "A maximum of 4 blocks with cache_control may be provided. Found 5."
    body["system"] = "rules"
    assert client(server).messages.create(**body).stop_reason == "tool_use"


def test_cache_control_on_a_thinking_block_is_refused(server):
    c = client(server)
    body = worker_body()
    first = c.messages.create(**body)
    returned = [b.model_dump(exclude_none=True) for b in first.content]
    returned[0]["cache_control"] = {"type": "ephemeral"}
    result = [{"type": "tool_result", "tool_use_id": first.content[-1].id, "content": "no"}]
    follow = dict(body, messages=[*body["messages"], {"role": "assistant", "content": returned},
                                  {"role": "user", "content": result}])
    assert refusal(lambda: c.messages.create(**follow)) == \
        "messages.1.content.0.thinking.cache_control: Extra inputs are not permitted"


def test_max_tokens_above_the_models_limit_is_refused(server):
    c = client(server)
    assert refusal(lambda: c.messages.create(**worker_body("claude-haiku-4-5", max_tokens=64_001, stream=True))) == \
        "max_tokens: 64001 > 64000, which is the maximum allowed number of output tokens for claude-haiku-4-5"
    with c.messages.stream(**worker_body(max_tokens=128_000)) as stream:  # the model's limit itself is fine
        assert stream.get_final_message().stop_reason == "tool_use"


def test_a_prompt_over_the_context_window_is_too_long(server):
    body = worker_body("claude-haiku-4-5", system="x" * 820_000)  # about 205,000 estimated tokens > 200K
    size = client(server).messages.count_tokens(model="claude-opus-5-5", system=body["system"],
                                                messages=body["messages"], tools=body["tools"]).input_tokens
    assert size > 200_000
    assert refusal(lambda: client(server).messages.create(**body)) == f"prompt is too long: {size} tokens > 200000 maximum"


def test_tool_use_without_its_tool_result_is_refused(server):
    c = client(server)
    body = worker_body()
    first = c.messages.create(**body)
    call = first.content[-1]
    returned = {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
    result = {"type": "tool_result", "tool_use_id": call.id, "content": "no"}
    missing = [{"type": "text", "text": "try again"}]
    expected = (f"messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: {call.id}. "
                "Each `tool_use` block must have a corresponding `tool_result` block in the next message.")
    for content in (missing, [*missing, result]):  # absent, or not at the start of the next message
        body_ = dict(body, messages=[*body["messages"], returned, {"role": "user", "content": content}])
        assert refusal(partial(c.messages.create, **body_)) == expected
    stray = dict(body, messages=[{"role": "user", "content": [dict(result, tool_use_id="toolu_x"), *missing]}])
    assert refusal(lambda: c.messages.create(**stray)).startswith(
        "messages.0.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_x.")
    ok = dict(body, messages=[*body["messages"], returned, {"role": "user", "content": [result, *missing]}])
    assert c.messages.create(**ok).stop_reason == "tool_use"


@pytest.mark.slow
@pytest.mark.parametrize("schema, message", [
    ({**PATCH_SCHEMA, "additionalProperties": True}, "For 'object' type, 'additionalProperties' must be explicitly set to false"),
    ({k: v for k, v in PATCH_SCHEMA.items() if k != "additionalProperties"},
     "For 'object' type, 'additionalProperties' must be explicitly set to false"),
    ({**PATCH_SCHEMA, "properties": {"patch": {"type": "string", "maxLength": 9}}}, "For 'string' type, property 'maxLength' is not supported"),
    ({**PATCH_SCHEMA, "properties": {"n": {"type": "integer", "minimum": 1}}}, "For 'integer' type, property 'minimum' is not supported"),
    ({**PATCH_SCHEMA, "properties": {"n": {"$ref": "#/$defs/n"}}, "$defs": {"n": {"type": "object", "additionalProperties": False,
                                                                             "properties": {"m": {"$ref": "#/$defs/n"}}}}},
     "recursive schemas are not supported"),
])
def test_strict_tools_with_schemas_strict_mode_refuses(server, schema, message):
    body = worker_body(tools=[{**SUBMIT_PATCH, "input_schema": schema}])
    assert refusal(lambda: client(server).messages.create(**body)).startswith(f"tools.0.custom.input_schema: {message}")
    lenient = worker_body(tools=[{**SUBMIT_PATCH, "strict": False, "input_schema": schema}])
    assert client(server).messages.create(**lenient).stop_reason == "tool_use"  # only strict tools are checked


def test_count_tokens_answers_the_prompts_size_with_the_same_validation(server):
    c = client(server)
    body = worker_body()
    counted = c.messages.count_tokens(model=MODEL, system=body["system"], messages=body["messages"], tools=body["tools"])
    answered = c.messages.create(**body)
    assert counted.input_tokens == answered.usage.input_tokens > 0  # no cache breakpoints: all of it is input
    assert refusal(lambda: c.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": ""}])) == \
        "messages: text content blocks must be non-empty"
    # token counts are recorded apart from the Messages calls (`requests` is what a run paid for)
    assert [(r.endpoint, r.status) for r in server.requests] == [("messages", 200)]
    assert [b["model"] for b in server.token_counts] == [MODEL, MODEL]
