"""The orchestrator: from the request and the repository context to a validated plan.

It calls the model with the `plan_edits` tool (model-protocol.md, section 1), checks the plan
against the base commit's tree, and asks once more, saying what was wrong, when it is invalid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from diffcrew import prompts
from diffcrew.agent.errors import ModelError, PlanError
from diffcrew.agent.llm import ModelClient, ModelReply, ModelRequest, single_tool_call
from diffcrew.agent.types import Plan
from diffcrew.tools.context import RepoContext, estimate_tokens
from diffcrew.tools.explore import EXPLORE_TOOLS, answer_tool
from diffcrew.tools.git import GitRepo, TreeEntry

PLAN_EDITS_TOOL: dict[str, Any] = {
    "name": "plan_edits",
    "description": "Submit the plan: which files change, and what each file's worker must do.",
    "input_schema": {
        "type": "object",
        "properties": {
            "summary": {"type": "string", "description": "One paragraph: what changes and why."},
            "edits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string", "description": "Relative to the repository root, '/'-separated."},
                        "action": {"type": "string", "enum": ["modify", "create", "delete"]},
                        "instructions": {"type": "string", "description": "Everything this file's worker must do."},
                    },
                    "required": ["path", "action", "instructions"],
                },
            },
        },
        "required": ["summary", "edits"],
    },
}
PLAN_MAX_TOKENS = 8192
EXPLORE_NAMES = frozenset(t["name"] for t in EXPLORE_TOOLS)
REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class PlanInputs:
    """What planning needs besides the client."""

    request: str
    model: str
    context: RepoContext
    repo: GitRepo
    plan_turns: int = 8
    on_explore: Callable[[str, dict[str, Any]], None] = lambda name, data: None


def planning_tokens(request: str, context: RepoContext) -> int:
    """Offline estimate of the first planning call's input: system prompt, request, context, tools."""
    user = prompts.render("orchestrator", "user", request=request, base=context.base, context=context.text)
    tools = json.dumps([*EXPLORE_TOOLS, PLAN_EDITS_TOOL])
    return estimate_tokens(prompts.render("orchestrator", "system") + user + tools)


def plan_problems(plan: Plan, tree: dict[str, TreeEntry], text_paths: frozenset[str]) -> list[str]:
    """Why a plan cannot be carried out on this tree (empty when it can)."""
    problems, seen = [], set()
    directories = {p.rsplit("/", 1)[0] for p in tree if "/" in p}
    directories |= {d.rsplit("/", i)[0] for d in list(directories) for i in range(1, d.count("/") + 1)}
    for edit in plan.edits:
        path = edit.path
        parts = path.split("/")
        if path.startswith("/") or "\\" in path or (len(path) > 1 and path[1] == ":"):
            problems.append(f"{path}: paths must be relative to the repository root and use '/'")
        elif any(part in ("", ".", "..") for part in parts):
            problems.append(f"{path}: paths may not contain empty, '.' or '..' parts")
        elif parts[0].lower() == ".git":
            problems.append(f"{path}: files under .git cannot be edited")
        elif path in seen:
            problems.append(f"{path}: listed more than once; give each file one edit")
        elif edit.action == "create":
            if path in tree or path in directories:
                problems.append(f"{path}: cannot create it, it already exists (use modify)")
            elif any("/".join(parts[:i]) in tree for i in range(1, len(parts))):
                problems.append(f"{path}: cannot create it, a parent of it is a file")
        elif path not in tree:
            problems.append(f"{path}: no such file in the repository (use create for a new file)")
        elif tree[path].mode not in REGULAR_MODES:
            problems.append(f"{path}: not a regular file (a symlink or submodule), it cannot be edited")
        elif path not in text_paths:
            problems.append(f"{path}: not a UTF-8 text file (binary, too large or another encoding)")
        seen.add(path)
    return problems


async def plan_change(client: ModelClient, inputs: PlanInputs) -> Plan:
    """Let the model explore (read-only) for up to --plan-turns turns, then take its plan.

    The tools are the same on every turn, so the cached prompt prefix holds; `tool_choice` is
    `auto` while turns remain and forces `plan_edits` on the last one. An invalid plan is sent
    back once with the reasons; a second invalid plan ends the run.
    """
    ctx = inputs.context
    system = [{"type": "text", "text": prompts.render("orchestrator", "system"), "cache_control": {"type": "ephemeral"}}]
    user = prompts.render("orchestrator", "user", request=inputs.request, base=ctx.base, context=ctx.text)
    messages: list[dict[str, Any]] = [{"role": "user", "content": [
        {"type": "text", "text": user, "cache_control": {"type": "ephemeral"}}]}]
    tree = {e.path: e for e in ctx.files}
    invalid, turn, problem = 0, 0, ""
    while True:
        turn += 1
        forced = turn >= inputs.plan_turns or invalid > 0
        choice = {"type": "tool", "name": "plan_edits"} if forced else {"type": "auto"}
        request = ModelRequest(role="orchestrator", model=inputs.model, system=system, messages=list(messages),
                               tools=[*EXPLORE_TOOLS, PLAN_EDITS_TOOL], tool_choice=choice,
                               max_tokens=PLAN_MAX_TOKENS, stream=True)
        try:
            reply = await client.call(request)
        except ModelError as exc:
            raise PlanError(f"planning failed: {exc}") from exc
        plan, problem, answers = _read_turn(reply, inputs, tree, explore=not forced)
        if plan is not None:
            return plan
        if problem:
            invalid += 1
            if invalid > 1 or turn > inputs.plan_turns:
                raise PlanError("the model's plan was still invalid after one re-ask: "
                                + problem.replace("\n", " ").strip())
        messages.append({"role": "assistant", "content": reply.content or [{"type": "text", "text": "(no answer)"}]})
        messages.append({"role": "user", "content": answers})


def _read_turn(reply: ModelReply, inputs: PlanInputs, tree: dict[str, TreeEntry],
               explore: bool) -> tuple[Plan | None, str, list[dict[str, Any]] | str]:
    """(a valid plan | None, the plan's problem if any, the next user content answering this turn)."""
    calls = reply.tool_calls()
    if explore and calls and reply.stop_reason != "max_tokens" and all(c.get("name") in EXPLORE_NAMES for c in calls):
        return None, "", [_explore(c, inputs) for c in calls]
    call, problem = single_tool_call(reply, "plan_edits")
    if call is not None:
        try:
            plan = Plan.from_tool_input(call["input"])
        except ValueError as exc:
            problem = f"The plan is malformed: {exc}. Call plan_edits again with a corrected plan."
        else:
            found = plan_problems(plan, tree, inputs.context.text_paths)
            if not found:
                return plan, "", []
            problem = ("The plan cannot be carried out:\n" + "\n".join(f"- {p}" for p in found)
                       + "\nCall plan_edits again with a corrected plan.")
    if not calls:
        return None, problem, problem
    return None, problem, [{"type": "tool_result", "tool_use_id": c["id"], "is_error": True, "content": problem}
                           for c in calls]


def _explore(call: dict[str, Any], inputs: PlanInputs) -> dict[str, Any]:
    """Answer one read-only exploration call from the base commit (secrets excluded)."""
    ctx = inputs.context
    text, is_error = answer_tool(inputs.repo, ctx.base, call["name"], call.get("input") or {}, ctx.text_paths)
    inputs.on_explore(call["name"], call.get("input") or {})
    return {"type": "tool_result", "tool_use_id": call["id"], "is_error": is_error, "content": text}
