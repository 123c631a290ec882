"""What the fake Messages API sends, and the thinking histories it accepts or refuses (via the real SDK).

Thinking blocks are signed and remembered by the server; a correct client echoes them and is
accepted, a client that drops, edits, reorders or forges them, or edits what came before them
on a preserved-thinking model, is refused as the real API refuses it.
"""

from __future__ import annotations

import json

import anthropic
import pytest

from apicalls import client, echo, patch_turns, refusal, worker_body
from fakes.server import FakeMessagesServer

CANNOT_MODIFY = "`thinking` or `redacted_thinking` blocks in the latest assistant message cannot be modified."
BOUND = "Invalid `signature` in `thinking` block. The block is bound to a different conversation."


@pytest.fixture
def server():
    with FakeMessagesServer(patch_turns("p1", "p2", "p3")) as srv:
        yield srv


def two_turns(server, body):
    """The first answer and the follow-up request that echoes it."""
    first = client(server).messages.create(**body)
    return first, echo(body, first)


# -- emission ------------------------------------------------------------------------------
def test_thinking_is_streamed_with_its_signature_and_matches_the_json_answer(server):
    body = worker_body(thinking={"type": "adaptive", "display": "summarized"})
    events = list(client(server).messages.create(**body, stream=True))
    thinking = [e for e in events if getattr(e, "index", None) == 0]
    assert thinking[0].type == "content_block_start"
    assert (thinking[0].content_block.thinking, thinking[0].content_block.signature) == ("", "")
    deltas = [e.delta for e in thinking if e.type == "content_block_delta"]
    assert [d.type for d in deltas[:-1]] == ["thinking_delta"] * (len(deltas) - 1) and len(deltas) > 2
    assert deltas[-1].type == "signature_delta" and thinking[-1].type == "content_block_stop"
    plain = client(server).messages.create(**body)
    assert plain.content[0].signature == deltas[-1].signature
    assert plain.content[0].thinking == "".join(d.thinking for d in deltas[:-1]) != ""


def test_display_omitted_sends_the_thinking_empty_but_bills_it(server):
    omitted = client(server).messages.create(**worker_body())  # the newer models' default display
    shown = client(server).messages.create(**worker_body(thinking={"type": "adaptive", "display": "summarized"}))
    unthinking = client(server).messages.create(**worker_body("claude-opus-4-8"))  # the same answer, no thinking
    assert omitted.content[0].type == "thinking" and omitted.content[0].thinking == ""
    thinking_tokens = -(-len(shown.content[0].thinking) // 4)
    for message in (omitted, shown):
        assert message.usage.output_tokens_details.thinking_tokens == thinking_tokens
        assert message.usage.output_tokens == thinking_tokens + unthinking.usage.output_tokens


def test_models_that_do_not_think_by_default_answer_without_thinking(server):
    plain = client(server).messages.create(**worker_body("claude-opus-4-8"))
    assert [b.type for b in plain.content] == ["tool_use"] and plain.usage.output_tokens_details is None
    asked = client(server).messages.create(**worker_body("claude-opus-4-8", thinking={"type": "adaptive"}))
    assert [b.type for b in asked.content] == ["thinking", "tool_use"]


def test_script_turns_choose_their_thinking():
    script = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": "p"}, "thinking": False},
                              {"content": [{"type": "redacted_thinking", "data": "opaque"},
                                           {"type": "thinking", "thinking": "mine", "signature": "not the server's"},
                                           {"type": "text", "text": "done"}]}]}
    body = worker_body(thinking={"type": "adaptive", "display": "summarized"})
    with FakeMessagesServer(script) as srv:
        first = client(srv).messages.create(**body)
        second = client(srv).messages.create(**echo(body, first))
        assert [b.type for b in first.content] == ["tool_use"]
        assert [b.type for b in second.content] == ["redacted_thinking", "thinking", "text"]
        assert second.content[1].thinking == "mine" and second.content[1].signature != "not the server's"
        third = echo(echo(body, first), second)
        assert refusal(lambda: client(srv).messages.create(**third)).startswith("fake server: the script has 2")


# -- histories accepted --------------------------------------------------------------------
def test_an_echoed_tool_loop_is_accepted_turn_after_turn(server):
    body = worker_body()
    c = client(server)
    for patch in ("p1", "p2", "p3"):
        answer = c.messages.create(**body)
        assert answer.content[-1].input == {"patch": patch}
        body = echo(body, answer)
    assert [r.status for r in server.requests] == [200, 200, 200]
    assistant = [m["content"] for m in body["messages"] if m["role"] == "assistant"]
    assert [[b["type"] for b in content] for content in assistant] == [["thinking", "tool_use"]] * 3


def test_thinking_may_be_dropped_from_the_front_or_outside_tool_use():
    script = {"worker:a.py": [{"text": "a question"}, {"text": "another question"},
                              {"tool": "submit_patch", "input": {"patch": "p"}}, {"text": "done"}]}
    with FakeMessagesServer(script) as srv:
        c = client(srv)
        body = echo(worker_body(), c.messages.create(**worker_body()))
        del body["messages"][1]["content"][0]  # the latest turn, outside tool use: its thinking may go
        for _ in range(2):
            body = echo(body, c.messages.create(**body))
        del body["messages"][3]["content"][0]  # the oldest thinking block left, before the tool loop: may go
        assert c.messages.create(**body).content[-1].text == "done"


def test_text_written_into_an_omitted_thinking_block_is_ignored(server):
    first, follow = two_turns(server, worker_body())
    follow["messages"][1]["content"][0]["thinking"] = "my own notes"
    assert client(server).messages.create(**follow).stop_reason == "tool_use"


def test_a_model_without_preserved_thinking_accepts_an_edited_prefix(server):
    first, follow = two_turns(server, worker_body("claude-opus-5"))
    follow["system"] = "You edit one file, carefully."
    assert client(server).messages.create(**follow).stop_reason == "tool_use"


# -- histories refused ---------------------------------------------------------------------
def summarized(server):
    return two_turns(server, worker_body(thinking={"type": "adaptive", "display": "summarized"}))


@pytest.mark.parametrize("edit, position", [
    (lambda blocks: blocks[1:], 0),                           # dropped within tool use
    (lambda blocks: [blocks[1], blocks[0]], 0),               # reordered
    (lambda blocks: [dict(blocks[0], thinking="edited"), blocks[1]], 0),  # edited
])
def test_the_latest_turns_thinking_cannot_be_modified(server, edit, position):
    first, follow = summarized(server)
    follow["messages"][1]["content"] = edit(follow["messages"][1]["content"])
    message = refusal(lambda: client(server).messages.create(**follow))
    assert message.startswith(f"messages.1.content.{position}: {CANNOT_MODIFY}")


def test_a_forged_signature_is_refused(server):
    first, follow = two_turns(server, worker_body())
    follow["messages"][1]["content"][0]["signature"] = "EqQBCkgIARAB"
    assert refusal(lambda: client(server).messages.create(**follow)) == \
        "messages.1.content.0: Invalid `signature` in `thinking` block"


@pytest.mark.parametrize("edit", [
    lambda body: body.update(system="You edit one file, carefully."),
    lambda body: body.update(tools=[b for b in body["tools"] if b["name"] != "read_file"]),
    lambda body: body["messages"][0].update(content=body["messages"][0]["content"] + "\nPS: keep it short."),
])
def test_a_changed_prefix_unbinds_later_thinking_on_preserved_models(server, edit):
    first, follow = two_turns(server, worker_body())
    edit(follow)
    assert refusal(lambda: client(server).messages.create(**follow)).startswith(f"messages.1.content.0: {BOUND}")


def test_thinking_removed_from_the_middle_unbinds_the_blocks_after_it():
    with FakeMessagesServer({"worker:a.py": [{"text": "one"}, {"text": "two"}, {"text": "three"}]}) as srv:
        c = client(srv)
        body = worker_body()
        for _ in range(3):  # thinking blocks A, B, C in messages 1, 3 and 5, no tool use
            body = echo(body, c.messages.create(**body))
        middle = json.loads(json.dumps(body))
        del middle["messages"][3]["content"][0]  # B
        assert refusal(lambda: c.messages.create(**middle)).startswith(f"messages.5.content.0: {BOUND}")
        front = json.loads(json.dumps(body))
        del front["messages"][1]["content"][0]  # A: removing the oldest is allowed
        assert refusal(lambda: c.messages.create(**front)).startswith("fake server: the script has 3 answer(s)")


def test_no_thinking_block_of_the_tool_loop_in_progress_may_be_left_out(server):
    c = client(server)
    body = worker_body()
    for _ in range(2):  # one user turn, two tool calls: one assistant turn for the API
        body = echo(body, c.messages.create(**body))
    del body["messages"][1]["content"][0]
    assert refusal(lambda: c.messages.create(**body)).startswith(f"messages.1.content.0: {CANNOT_MODIFY}")


def test_an_edited_thinking_block_in_an_earlier_turn_has_an_invalid_signature():
    with FakeMessagesServer({"worker:a.py": [{"text": "one"}, {"text": "two"}]}) as srv:
        c = client(srv)
        body = worker_body(thinking={"type": "adaptive", "display": "summarized"})
        for _ in range(2):
            body = echo(body, c.messages.create(**body))
        body["messages"][1]["content"][0]["thinking"] = "edited"
        assert refusal(lambda: c.messages.create(**body)) == \
            "messages.1.content.0: Invalid `signature` in `thinking` block"


# -- usage ---------------------------------------------------------------------------------
MARK = {"type": "ephemeral"}


def marked_body(system_chars: int, model: str = "claude-sonnet-5-5") -> dict:
    return worker_body(model, system=[{"type": "text", "text": "r" * system_chars, "cache_control": MARK}])


def test_input_tokens_exclude_what_the_cache_read_or_wrote():
    with FakeMessagesServer(patch_turns("p", "p")) as srv:
        c = client(srv)
        body = marked_body(4000)  # about 1,000 tokens before the breakpoint: over the 512 minimum
        size = c.messages.count_tokens(**{k: body[k] for k in ("model", "system", "messages", "tools")}).input_tokens
        first, second = c.messages.create(**body), c.messages.create(**body)
    assert first.usage.cache_creation_input_tokens > 0 == first.usage.cache_read_input_tokens
    assert second.usage.cache_read_input_tokens == first.usage.cache_creation_input_tokens
    assert second.usage.cache_creation_input_tokens == 0
    for usage in (first.usage, second.usage):
        assert usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens == size
        assert 0 < usage.input_tokens < size


@pytest.mark.parametrize("model, chars, cached", [("claude-sonnet-5-5", 1000, False), ("claude-sonnet-5-5", 2400, True),
                                                  ("claude-opus-4-6", 2400, False), ("claude-opus-4-6", 17000, True)])
def test_prefixes_under_the_models_minimum_are_not_cached(model, chars, cached):
    with FakeMessagesServer(patch_turns("p", "p")) as srv:
        c = client(srv)
        first, second = c.messages.create(**marked_body(chars, model)), c.messages.create(**marked_body(chars, model))
    assert (first.usage.cache_creation_input_tokens > 0) is cached
    assert (second.usage.cache_read_input_tokens > 0) is cached
    assert bool(srv.cache_entries) is cached


# -- faults and answers that end early -----------------------------------------------------
def test_an_sse_error_event_arrives_inside_a_200_stream():
    script = {"worker:a.py": [{"sse_error": "overloaded_error", "times": 2}, {"tool": "submit_patch", "input": {"patch": "p"}}]}
    with FakeMessagesServer(script) as srv:
        c = client(srv)
        with pytest.raises(anthropic.APIStatusError) as info:
            with c.messages.stream(**worker_body()) as stream:
                assert stream.response.status_code == 200
                stream.get_final_message()
        assert info.value.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        with pytest.raises(anthropic.OverloadedError):  # not streamed: the same error as its HTTP status
            c.messages.create(**worker_body())
        assert c.messages.create(**worker_body()).content[-1].input == {"patch": "p"}
    assert [r.status for r in srv.requests] == [200, 529, 200]


@pytest.mark.parametrize("stream", [False, True])
def test_refusal_and_context_window_answers(stream):
    script = {"worker:a.py": [{"refusal": {"category": "cyber", "explanation": "Looks like malware."}, "text": "I"},
                              {"refusal": True}, {"context_window_exceeded": True, "text": "The patch is"}]}
    with FakeMessagesServer(script) as srv:
        c = client(srv)
        body = worker_body(stream=stream)
        answers = []
        for _ in range(3):
            if stream:
                with c.messages.stream(**{k: v for k, v in body.items() if k != "stream"}) as s:
                    answers.append(s.get_final_message())
            else:
                answers.append(c.messages.create(**body))
            body = dict(body, messages=[*body["messages"], {"role": "assistant", "content": "..."},
                                        {"role": "user", "content": "again"}])
    assert [a.stop_reason for a in answers] == ["refusal", "refusal", "model_context_window_exceeded"]
    details = [a.stop_details.model_dump() if a.stop_details else None for a in answers]
    assert details == [{"type": "refusal", "category": "cyber", "explanation": "Looks like malware."},
                       {"type": "refusal", "category": None, "explanation": None}, None]
    assert [b.type for b in answers[0].content] == ["thinking", "text"]


@pytest.mark.parametrize("stream", [False, True])
def test_an_answer_cut_at_max_tokens_cuts_the_tool_input(stream):
    patch = "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-def foo():\n+def bar():\n"
    note = "Callers of foo in other modules need the new name too. " * 3
    script = {"worker:a.py": [{"tool": "submit_patch", "input": {"patch": patch, "note": note}, "stop_reason": "max_tokens"},
                              {"tool": "submit_patch", "input": {"patch": patch}, "stop_reason": "max_tokens", "cut_at": 20}]}
    with FakeMessagesServer(script) as srv:
        body = worker_body(max_tokens=300)
        answers = []
        for _ in range(2):
            if stream:
                with client(srv).messages.stream(**body) as s:
                    answers.append(s.get_final_message())
            else:
                answers.append(client(srv).messages.create(**body))
            body = echo(body, answers[-1])
    assert [(a.stop_reason, a.usage.output_tokens) for a in answers] == [("max_tokens", 300)] * 2
    # cut in the note: the patch looks whole, which is why a max_tokens answer is never used
    assert answers[0].content[-1].input == {"patch": patch}
    assert answers[1].content[-1].input == {}  # cut inside the patch string: it is left out
