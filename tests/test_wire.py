"""The request and answer rules of model-protocol.md v2 §1-2, unit by unit (no network)."""

from __future__ import annotations

import pytest

from diffcrew.agent import apierrors, models
from diffcrew.agent.conversation import ContextTooLong, ModelRefused, assistant_turn, expect_call, follow_up
from diffcrew.agent.llm.protocol import ModelReply, ModelRequest, wire_blocks
from diffcrew.agent.orchestrator import PLAN_EDITS_TOOL
from diffcrew.agent.synthesizer import WRITE_SUMMARY_TOOL
from diffcrew.agent.types import Usage
from diffcrew.agent.worker import SUBMIT_PATCH_TOOL
from diffcrew.tools.explore import EXPLORE_TOOLS
from diffcrew.tools.redact import Redactor

THINKING = {"type": "thinking", "thinking": "Let me look at password = \"[REDACTED-SECRET-0123456789ab]\"",
            "signature": "c2lnbmVk"}
REDACTED = {"type": "redacted_thinking", "data": "b3BhcXVl"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "submit_patch", "input": {"patch": "--- a/x\n+++ b/x\n"}}


def reply(content: list[dict], stop: str = "tool_use", refusal: str = "") -> ModelReply:
    return ModelReply(content, stop, Usage(input_tokens=10, output_tokens=5, calls=1), refusal=refusal)


def request(model: str = "claude-opus-5-5", effort: str | None = "high", max_tokens: int = 32_000) -> ModelRequest:
    return ModelRequest(role="worker", model=model, system=[{"type": "text", "text": "s"}],
                        messages=[{"role": "user", "content": "u"}], tools=[SUBMIT_PATCH_TOOL],
                        max_tokens=max_tokens, effort=effort)


def test_every_request_asks_with_tool_choice_auto_and_no_sampling_parameters() -> None:
    body = request().body()
    assert body["tool_choice"] == {"type": "auto"}
    assert not {"temperature", "top_p", "top_k", "thinking"} & body.keys()
    assert body["messages"][-1]["role"] == "user"  # no prefill


def test_every_tool_is_strict_with_closed_objects() -> None:
    def closed(schema: dict) -> bool:
        if schema.get("type") == "object" and schema.get("additionalProperties") is not False:
            return False
        children = list(schema.get("properties", {}).values()) + [schema.get("items") or {}]
        return all(closed(c) for c in children if c)

    for tool in (*EXPLORE_TOOLS, PLAN_EDITS_TOOL, SUBMIT_PATCH_TOOL, WRITE_SUMMARY_TOOL):
        assert tool["strict"] is True and closed(tool["input_schema"]), tool["name"]
        assert "minimum" not in str(tool["input_schema"])  # strict mode takes no numeric bounds


def test_effort_is_sent_only_where_the_model_takes_it() -> None:
    assert request("claude-opus-5-5", "xhigh").body()["output_config"] == {"effort": "xhigh"}
    assert request("claude-opus-4-6", "xhigh").body()["output_config"] == {"effort": "high"}  # no xhigh there
    assert "output_config" not in request("claude-haiku-4-5", "low").body()  # Haiku 4.5 refuses effort
    assert "output_config" not in request("some-proxy-model", "high").body()
    assert "output_config" not in request("claude-opus-5-5", None).body()


def test_max_tokens_is_capped_at_the_models_output_limit() -> None:
    assert request("claude-haiku-4-5", max_tokens=100_000).body()["max_tokens"] == 64_000
    assert request("claude-opus-5-5", max_tokens=200_000).body()["max_tokens"] == 128_000
    assert models.facts("claude-haiku-4-5-20251001") == models.facts("claude-haiku-4-5")


def test_answer_blocks_go_back_exactly_and_in_order() -> None:
    text = {"type": "text", "text": "Here it is.", "citations": None}
    blocks = wire_blocks([THINKING, REDACTED, text, CALL])
    assert blocks == [THINKING, REDACTED, {"type": "text", "text": "Here it is."}, CALL]
    turn = assistant_turn(reply(blocks))
    assert turn == {"role": "assistant", "content": [THINKING, REDACTED, blocks[2], CALL]}


def test_a_repair_keeps_the_thinking_and_answers_every_call() -> None:
    turns = follow_up(reply([THINKING, CALL]), "does not apply")
    assert turns[0]["content"][0] == THINKING
    assert turns[1]["content"] == [{"type": "tool_result", "tool_use_id": "toolu_1", "is_error": True,
                                    "content": "does not apply"}]
    plain = follow_up(reply([THINKING, {"type": "text", "text": "I think..."}], "end_turn"), "call it")
    assert plain[1] == {"role": "user", "content": [{"type": "text", "text": "call it"}]}


def test_signed_blocks_are_neither_redacted_nor_restored() -> None:
    redactor = Redactor(extra=("hunter2-password-value",))
    sent = redactor.redact_value([{"role": "assistant", "content": [THINKING, {"type": "text",
                                                                            "text": "hunter2-password-value"}]}])
    assert sent[0]["content"][0] == THINKING and "hunter2" not in sent[0]["content"][1]["text"]
    assert redactor.restore_value([THINKING]) == [THINKING]


def test_stop_reasons_are_read_as_the_protocol_says() -> None:
    with pytest.raises(ModelRefused, match="declined the worker request \\(cyber\\)"):
        expect_call(reply([], "refusal", refusal="cyber"), "submit_patch", "worker")
    with pytest.raises(ContextTooLong, match="--context-tokens"):
        expect_call(reply([CALL], "model_context_window_exceeded"), "submit_patch", "worker")
    call, problem = expect_call(reply([THINKING, CALL], "max_tokens"), "submit_patch", "worker")
    assert call is None and "cut off" in problem  # a cut call's input is never used
    call, problem = expect_call(reply([{"type": "text", "text": "done"}], "end_turn"), "submit_patch", "worker")
    assert call is None and "text only" in problem and "submit_patch" in problem
    call, problem = expect_call(reply([THINKING, CALL]), "submit_patch", "worker")
    assert call == CALL and problem == ""


@pytest.mark.parametrize("status, body, transient, words", [
    (529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, True, "overloaded"),
    (429, {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}, True, "rate limit"),
    (500, {"type": "error", "error": {"type": "api_error", "message": "boom"}}, True, "HTTP 500: boom"),
    (200, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}, True, "broke off"),
    (200, {"type": "error", "error": {"type": "api_error", "message": "Internal"}}, True, "broke off"),
    (200, {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}, False, "broke off"),
    (400, {"type": "error", "error": {"type": "invalid_request_error",
                                      "message": "prompt is too long: 1166914 tokens > 1000000 maximum"}},
     False, "1,166,914 tokens, over the model's 1,000,000"),
    (404, {"type": "error", "error": {"type": "not_found_error", "message": "model: claude-x"}}, False,
     "--orchestrator-model"),
    (401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}, False,
     "ANTHROPIC_API_KEY"),
])
def test_errors_are_classified_and_said_in_the_services_words(status: int, body: dict, transient: bool,
                                                              words: str) -> None:
    verdict = apierrors.classify(status, body, {"retry-after": "2"})
    assert verdict.transient is transient and words in str(verdict.error)
    assert "{'type'" not in str(verdict.error) and "Error code" not in str(verdict.error)
    if transient:
        assert verdict.retry_after == 2.0
    assert isinstance(verdict.error, ContextTooLong) == ("too long" in str(body))


def test_a_secret_found_by_its_context_is_redacted_wherever_it_comes_back() -> None:
    redactor = Redactor(extra=())
    sent = redactor.redact('password = "correct-horse-battery"')
    token = sent.split('"')[1]
    # the model echoes the token in a tool call; the reply is restored for local use ...
    call = redactor.restore_value({"type": "tool_use", "id": "t", "name": "read_file", "input": {"path": token}})
    assert call["input"]["path"] == "correct-horse-battery"
    # ... and the same turn goes back out exactly as the model wrote it: the secret never does
    assert redactor.redact_value(call) == {"type": "tool_use", "id": "t", "name": "read_file", "input": {"path": token}}
