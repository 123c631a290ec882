"""Unit tests of the deterministic pieces: plan validation, prompts, scripts, pricing, branch names."""

from __future__ import annotations

import pytest

from diffcrew import prompts
from diffcrew.agent.planrules import plan_problems
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.run import slugify
from diffcrew.agent.script import ScriptError, answer, key_for_request
from diffcrew.agent.types import Plan, Usage
from diffcrew.tools.git import TreeEntry

TREE = {p: TreeEntry(p, m, "0" * 40, 10) for p, m in [("a.py", "100644"), ("pkg/b.py", "100755"),
                                                        ("link", "120000"), ("img.png", "100644")]}
TEXT = frozenset({"a.py", "pkg/b.py", "link"})


def plan(*edits: tuple[str, str]) -> Plan:
    return Plan.from_tool_input({"summary": "s", "edits": [{"path": p, "action": a, "instructions": "i"}
                                                           for p, a in edits]})


def test_valid_plan_has_no_problems() -> None:
    assert plan_problems(plan(("a.py", "modify"), ("pkg/c.py", "create"), ("pkg/b.py", "delete")), TREE, TEXT) == []


@pytest.mark.parametrize("path, action, reason", [
    ("/etc/passwd", "modify", "relative"),
    ("..\\x.py", "modify", "relative"),
    ("../x.py", "create", "'..'"),
    ("pkg//b.py", "modify", "empty"),
    (".git/config", "modify", ".git"),
    (".GIT/hooks/pre-commit", "create", ".git"),
    ("missing.py", "modify", "no such file"),
    ("missing.py", "delete", "no such file"),
    ("a.py", "create", "already exists"),
    ("pkg", "create", "already exists"),
    ("a.py/x.py", "create", "parent of it is a file"),
    ("link", "modify", "not a regular file"),
    ("img.png", "modify", "not a UTF-8 text file"),
])
def test_invalid_edits_are_named(path: str, action: str, reason: str) -> None:
    problems = plan_problems(plan((path, action)), TREE, TEXT)
    assert len(problems) == 1 and reason in problems[0] and problems[0].startswith(path)


def test_duplicate_paths_are_refused() -> None:
    problems = plan_problems(plan(("a.py", "modify"), ("a.py", "delete")), TREE, TEXT)
    assert problems == ["a.py: listed more than once; give each file one edit"]


@pytest.mark.parametrize("data, reason", [
    ([], "must be an object"), ({"summary": "", "edits": []}, "summary"), ({"summary": "s", "edits": []}, "edits"),
    ({"summary": "s", "edits": [{"path": "a", "action": "rename"}]}, "'action' must be one of"),
    ({"summary": "s", "edits": [{"action": "modify"}]}, "no 'path'"),
])
def test_malformed_plan_input(data: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        Plan.from_tool_input(data)


def test_prompt_rendering_is_strict_and_single_pass() -> None:
    with pytest.raises(prompts.TemplateError, match="missing"):
        prompts.render("orchestrator", "user", request="r", base="b")
    with pytest.raises(prompts.TemplateError, match="unused"):
        prompts.render("orchestrator", "user", request="r", base="b", context="c", extra="e")
    text = prompts.render("orchestrator", "user", request="use {{base}} literally", base="abc", context="ctx")
    assert "use {{base}} literally" in text and "commit abc" in text


def test_script_keys_and_turns() -> None:
    worker = {"tools": [{"name": "submit_patch"}], "messages": [
        {"role": "user", "content": [{"type": "text", "text": "shared"}, {"type": "text", "text": "File: a.py\nFile: b"}]}]}
    assert key_for_request(worker) == "worker:a.py"
    tricky = {"tools": [{"name": "submit_patch"}], "messages": [{"role": "user", "content": [
        {"type": "text", "text": "context:\nFile: README.md\n"}, {"type": "text", "text": "File: b.py\nFile: c"}]}]}
    assert key_for_request(tricky) == "worker:b.py"
    assert key_for_request({"tools": [{"name": "plan_edits"}], "messages": []}) == "orchestrator"
    turns = {"worker:a.py": [{"http_error": 529}, {"tool": "submit_patch", "input": {"patch": "p1"}},
                             {"tool": "submit_patch", "input": {"patch": "p2"}}]}
    assert answer(turns, worker)["content"][0]["input"] == {"patch": "p1"}
    worker["messages"] += [{"role": "assistant", "content": []}, {"role": "user", "content": "again"}]
    assert answer(turns, worker)["content"][0]["input"] == {"patch": "p2"}
    worker["messages"] += [{"role": "assistant", "content": []}, {"role": "user", "content": "again"}]
    with pytest.raises(ScriptError, match="turn 3 was asked for"):
        answer(turns, worker)


def test_cost_uses_the_price_table_and_refuses_to_guess() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=1_000_000, calls=1)
    assert cost_of("claude-sonnet-5-5", usage) == pytest.approx(2.0 + 1.0 + 0.1)
    assert cost_of("claude-haiku-4-5-20251001", usage) == pytest.approx(1.0 + 0.5 + 0.1)
    assert cost_of("some-local-model", usage) is None


def test_slugify() -> None:
    assert slugify("Rename Config.load to Config.from_file, and update callers!") == "rename-config-load-to-config-from-file"
    assert slugify("!!!") == "change"


def test_redactor_tokens_are_stable_and_restore_exactly() -> None:
    from diffcrew.tools.redact import Redactor

    key = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nabc\n-----END RSA PRIVATE KEY-----"
    text = (f'token = "ghp_{"a" * 36}"\npassword: "hunter2hunter2"\n{key}\nAKIAABCDEFGHIJKLMNOP\n'
            "env: the-env-secret-value\n")
    redactor = Redactor(extra=("the-env-secret-value",), key=b"k" * 32)
    redacted = redactor.redact(text)
    for secret in ("ghp_", "hunter2", "MIIEow", "AKIAABCD", "the-env-secret-value"):
        assert secret not in redacted
    assert redactor.count == 5 and redactor.redact(text) == redacted
    assert redactor.restore(redacted) == text
    assert redactor.restore_value({"patch": [redacted]}) == {"patch": [text]}
    same_key = Redactor(extra=("the-env-secret-value",), key=b"k" * 32)
    assert same_key.redact("AKIAABCDEFGHIJKLMNOP") in redacted  # stable for a key, whatever the order
    assert Redactor(key=b"x" * 32).redact("AKIAABCDEFGHIJKLMNOP") not in redacted
    assert Redactor(extra=()).redact("x = 1  # no secrets, sk-short\n") == "x = 1  # no secrets, sk-short\n"
