"""Every stop reason and error the API documents, handled as model-protocol.md §2 says, end to end
through the real SDK against the strict fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import diffcrew_branches, git
from test_faults import NEW, PATCH, PLAN, assert_failed_clean, assert_recovered, run, script


def asks(server, key: str) -> int:
    return len([r for r in server.requests if r.key == key])


@pytest.mark.slow
@pytest.mark.parametrize("error_type", ["overloaded_error", "api_error", "rate_limit_error"])
@pytest.mark.parametrize("role", ["orchestrator", "worker"])
def test_an_error_event_inside_a_stream_is_retried_when_transient(tmp_path: Path, server, error_type: str,
                                                                  role: str) -> None:
    turns = script()
    key = {"worker": "worker:geo.py"}.get(role, role)
    turns[key] = [{"sse_error": error_type}, *turns[key]]
    result, repo, _ = run(tmp_path, server, turns)
    assert_recovered(result, repo)
    assert asks(server, key) == 2


def test_an_error_event_of_another_type_is_not_retried(tmp_path: Path, server) -> None:
    turns = script(orchestrator=[{"sse_error": "invalid_request_error", "message": "the stream went wrong"}, PLAN])
    result, repo, before = run(tmp_path, server, turns)
    assert_failed_clean(result, repo, before)
    assert "broke off its answer: the stream went wrong (invalid_request_error" in result.stderr
    assert asks(server, "orchestrator") == 1


def test_a_persistent_overload_says_the_services_words_once(tmp_path: Path, server) -> None:
    turns = script(worker=[{"http_error": 529, "times": 50, "retry_after": 0, "message": "Overloaded"}, PATCH])
    result, repo, before = run(tmp_path, server, turns)
    assert_failed_clean(result, repo, before)
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("diffcrew: error: ")]
    assert "the model service is overloaded (HTTP 529): Overloaded (overloaded_error" in line
    assert line.count("Overloaded") == 1 and "{'type'" not in line and "Error code" not in line


def test_a_refused_plan_fails_at_once_with_a_clear_line(tmp_path: Path, server) -> None:
    turns = script(orchestrator=[{"refusal": {"category": "cyber", "explanation": "looks like malware"}}, PLAN])
    result, repo, before = run(tmp_path, server, turns)
    assert_failed_clean(result, repo, before)
    assert "the model declined the orchestrator request (cyber looks like malware)" in result.stderr
    assert asks(server, "orchestrator") == 1  # not retried, not re-asked


def test_a_refused_file_fails_alone_and_is_not_retried(tmp_path: Path, server) -> None:
    turns = script(worker=[{"refusal": "general_harms"}, PATCH])
    result, repo, before = run(tmp_path, server, turns)
    assert_failed_clean(result, repo, before)
    assert "geo.py" in result.stderr and "declined the worker request (general_harms)" in result.stderr
    assert asks(server, "worker:geo.py") == 1


def test_an_answer_that_filled_the_context_window_names_what_to_lower(tmp_path: Path, server) -> None:
    turns = script(worker=[{"context_window_exceeded": True, "text": "The file"}, PATCH])
    result, repo, before = run(tmp_path, server, turns)
    assert_failed_clean(result, repo, before)
    assert "outgrew the model's context window" in result.stderr and "--context-tokens" in result.stderr
    assert asks(server, "worker:geo.py") == 1


def test_a_prompt_too_long_is_not_retried_unchanged_and_names_the_size(tmp_path: Path, server) -> None:
    too_long = {"http_error": 400, "message": "prompt is too long: 1166914 tokens > 1000000 maximum"}
    result, repo, before = run(tmp_path, server, script(orchestrator=[too_long, PLAN]))
    assert_failed_clean(result, repo, before)
    assert "prompt is too long for the model (1,166,914 tokens, over the model's 1,000,000)" in result.stderr
    assert "--context-tokens or --max-file-bytes" in result.stderr
    assert asks(server, "orchestrator") == 1


def test_an_answer_cut_at_max_tokens_is_re_asked_once_then_the_file_fails(tmp_path: Path, server) -> None:
    cut = {**PATCH, "stop_reason": "max_tokens"}
    result, repo, before = run(tmp_path, server, script(worker=[cut, cut, PATCH]), "--repair-rounds", "5")
    assert_failed_clean(result, repo, before)
    assert asks(server, "worker:geo.py") == 2  # the second cut ends it, whatever --repair-rounds says
    assert "cut off at the output token limit" in result.stderr


def test_a_cut_answer_is_never_applied_even_when_its_input_looks_whole(tmp_path: Path, server) -> None:
    cut = {**PATCH, "stop_reason": "max_tokens", "cut_at": 10_000}  # the whole input arrived, but flagged cut
    result, repo, _ = run(tmp_path, server, script(worker=[cut, PATCH]))
    assert_recovered(result, repo)
    assert asks(server, "worker:geo.py") == 2
    assert git(repo, "show", f"{diffcrew_branches(repo)[0]}:geo.py") == NEW


def test_a_stream_that_ends_before_its_stop_reason_is_retried_as_cut(tmp_path: Path, server) -> None:
    turns = script(worker=[{"cut_stream": True, "clean": True}, PATCH])
    result, repo, _ = run(tmp_path, server, turns)
    assert_recovered(result, repo)
    assert asks(server, "worker:geo.py") == 2  # retried as transient, not re-asked as a malformed answer
    second = [r for r in server.requests if r.key == "worker:geo.py"][1]
    assert len(second.body["messages"]) == 1  # the same first request again, no repair turn
