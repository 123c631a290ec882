"""The orchestrator: from the request and the repository context to a validated plan.

It calls the model with the `plan_edits` tool (model-protocol.md, section 1), checks the plan
against the base commit's tree, and asks once more, saying what was wrong, when it is invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diffcrew import prompts
from diffcrew.agent.errors import ModelError, PlanError
from diffcrew.agent.llm import ModelClient, ModelRequest, answer_turns, single_tool_call
from diffcrew.agent.types import Plan
from diffcrew.tools.context import RepoContext
from diffcrew.tools.git import TreeEntry

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
REGULAR_MODES = ("100644", "100755")


@dataclass(frozen=True)
class PlanInputs:
    """What planning needs besides the client."""

    request: str
    model: str
    context: RepoContext
    text_paths: frozenset[str]


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
    """Ask the model for a plan; re-ask once with the reason if it is malformed or invalid."""
    ctx = inputs.context
    system = [{"type": "text", "text": prompts.render("orchestrator", "system"), "cache_control": {"type": "ephemeral"}}]
    user = prompts.render("orchestrator", "user", request=inputs.request, base=ctx.base, context=ctx.text)
    messages: list[dict[str, Any]] = [{"role": "user", "content": user}]
    tree = {e.path: e for e in ctx.files}
    problem = ""
    for _ in range(2):
        request = ModelRequest(role="orchestrator", model=inputs.model, system=system, messages=list(messages),
                               tools=[PLAN_EDITS_TOOL], tool_choice={"type": "tool", "name": "plan_edits"},
                               max_tokens=PLAN_MAX_TOKENS, stream=True)
        try:
            reply = await client.call(request)
        except ModelError as exc:
            raise PlanError(f"planning failed: {exc}") from exc
        call, problem = single_tool_call(reply, "plan_edits")
        if call is not None:
            try:
                plan = Plan.from_tool_input(call["input"])
            except ValueError as exc:
                problem = f"The plan is malformed: {exc}. Call plan_edits again with a corrected plan."
            else:
                found = plan_problems(plan, tree, inputs.text_paths)
                if not found:
                    return plan
                problem = ("The plan cannot be carried out:\n" + "\n".join(f"- {p}" for p in found)
                           + "\nCall plan_edits again with a corrected plan.")
        messages.extend(answer_turns(reply, problem))
    raise PlanError("the model's plan was still invalid after one re-ask: " + problem.replace("\n", " ").strip())
