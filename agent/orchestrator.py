"""The orchestrator: from the request and the repository context to a validated plan.

It calls the model with the `plan_edits` tool (model-protocol.md, section 1), checks the plan
against the base commit's tree, and asks once more, saying what was wrong, when it is invalid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from diffcrew import prompts
from diffcrew.agent.config import DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_FILES
from diffcrew.agent.errors import ModelError, PlanError
from diffcrew.agent.conversation import assistant_turn, end_of_role, expect_call
from diffcrew.agent.events import Emit, ignore
from diffcrew.agent.exploring import ExploreSource, Found, answer_calls, exploring, tool_result
from diffcrew.agent.llm.protocol import ModelClient, ModelReply, ModelRequest
from diffcrew.agent.scope import DEFAULT_PROTECTED, ignored_paths, matches
from diffcrew.agent.types import FileEdit, Plan
from diffcrew.tools.context import RepoContext
from diffcrew.tools.tokens import estimate_tokens
from diffcrew.tools.explore import EXPLORE_TOOLS
from diffcrew.tools.git import GitRepo, TreeEntry
from diffcrew.tools.gitconst import REGULAR_MODES, SUBMODULE_MODE
from diffcrew.tools.paths import option_problem
from diffcrew.tools.strict import strict_tool

PLAN_EDITS_TOOL = strict_tool(
    "plan_edits", "Submit the plan: which files change, and what each file's worker must do. This ends planning.",
    {"summary": {"type": "string", "description": "One paragraph: what changes and why."},
     "edits": {"type": "array", "items": {
         "type": "object",
         "properties": {
             "path": {"type": "string", "description": "Relative to the repository root, '/'-separated."},
             "action": {"type": "string", "enum": ["modify", "create", "delete"]},
             "instructions": {"type": "string", "description": "Everything this file's worker must do."}},
         "required": ["path", "action", "instructions"]}}},
    ["summary", "edits"])
# Thinking and the answer share max_tokens: planning thinks the most of any role.
PLAN_MAX_TOKENS = 32_000
EXPLORE_NAMES = frozenset(t["name"] for t in EXPLORE_TOOLS)
PLAN_TOOLS = [*EXPLORE_TOOLS, PLAN_EDITS_TOOL]  # the same list on every turn of the conversation


@dataclass(frozen=True)
class PlanRules:
    """Limits a plan must respect besides the tree itself (configurable by the user)."""

    protected: tuple[str, ...] = DEFAULT_PROTECTED
    allowed: tuple[str, ...] = ()  # --allow-path: protected paths the user lets the plan touch
    max_files: int = DEFAULT_MAX_FILES
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    # `diffcrew fix`: the only paths the plan may modify (None: any path, any action). The request is
    # then a standing one that may not apply, so an empty list of edits is a valid answer too.
    scope: tuple[str, ...] | None = None


@dataclass(frozen=True)
class PlanInputs:
    """What planning needs besides the client."""

    request: str
    model: str
    context: RepoContext
    repo: GitRepo
    plan_turns: int = 8
    effort: str | None = None
    rules: PlanRules = PlanRules()
    submodules: tuple[TreeEntry, ...] = ()
    emit: Emit = ignore  # the run's progress: Explored per exploration call


def planning_tokens(request: str, context: RepoContext) -> int:
    """Offline estimate of the first planning call's input: system prompt, request, context, tools."""
    user = prompts.render("orchestrator", "user", request=request, base=context.base, context=context.text)
    tools = json.dumps([*EXPLORE_TOOLS, PLAN_EDITS_TOOL])
    return estimate_tokens(prompts.render("orchestrator", "system") + user + tools)


def plan_problems(plan: Plan, tree: dict[str, TreeEntry], text_paths: frozenset[str],
                  rules: PlanRules = PlanRules(), ignored: frozenset[str] = frozenset()) -> list[str]:
    """Why a plan cannot be carried out on this tree under these rules (empty when it can);
    `ignored`: the paths it creates that git ignores."""
    problems: list[str] = []
    if len(plan.edits) > rules.max_files:
        problems.append(f"the plan has {len(plan.edits)} files; at most {rules.max_files} are allowed (--max-files)")
    directories = {p.rsplit("/", i)[0] for p in tree for i in range(1, p.count("/") + 1)}
    folded = {p.casefold(): p for p in tree}
    planned = {e.path for e in plan.edits if e.action != "delete"}
    seen: set[str] = set()
    for edit in plan.edits:
        problem = option_problem(edit.path) or _edit_problem(edit, tree, text_paths, rules, directories)
        if problem is None:
            problem = _nesting_problem(edit.path, planned)
        if problem is None and edit.path in ignored and not matches(edit.path, rules.allowed):
            problem = ("ignored by git (a virtualenv, build output, local settings); a file created there would "
                       "be checked out over the user's own; the user must allow it with --allow-path")
        if problem is None and edit.path in seen:
            problem = "listed more than once; give each file one edit"
        twin = folded.get(edit.path.casefold())
        if problem is None and twin is not None and twin != edit.path:
            problem = f"differs from {twin} only in letter case (a collision on case-insensitive file systems)"
        folded.setdefault(edit.path.casefold(), edit.path)
        seen.add(edit.path)
        if problem:
            problems.append(f"{edit.path}: {problem}")
    return problems


def _nesting_problem(path: str, planned: set[str]) -> str | None:
    """A planned path that another planned path puts files under (in any letter case, as
    case-insensitive file systems see it): one tree cannot hold both."""
    inside = sorted(p for p in planned if p.casefold().startswith(path.casefold() + "/"))
    if inside:
        return (f"the plan also has {inside[0]} under it; a path cannot be both a file and a directory "
                "(drop one of them)")
    return None


def _edit_problem(edit: FileEdit, tree: dict[str, TreeEntry], text_paths: frozenset[str], rules: PlanRules,
                  directories: set[str]) -> str | None:
    path, parts = edit.path, edit.path.split("/")
    if rules.scope is not None and path not in rules.scope:
        return "not one of the files this run may change; plan edits only to the files the request names"
    if rules.scope is not None and edit.action != "modify":
        return f"this run may only modify the files the request names, not {edit.action} them"
    if matches(path, rules.protected) and not matches(path, rules.allowed):
        return ("a protected path (CI, workflows, hooks, git attributes, diffcrew's config); the user must allow it "
                "with --allow-path")
    if edit.action == "create":
        if path in tree or path in directories:
            return "cannot create it, it already exists (use modify)"
        if any("/".join(parts[:i]) in tree for i in range(1, len(parts))):
            return "cannot create it, a parent of it is a file or a submodule"
        return None
    if path not in tree:
        return "no such file in the repository (use create for a new file)"
    if tree[path].mode == SUBMODULE_MODE:
        return "a submodule; diffcrew does not edit submodules"
    if tree[path].mode not in REGULAR_MODES:
        return "not a regular file (a symlink), it cannot be edited"
    if tree[path].size > rules.max_file_bytes:
        return f"too large to edit ({tree[path].size:,} bytes; the limit is {rules.max_file_bytes:,}, --max-file-bytes)"
    if path not in text_paths:
        return "not a UTF-8 text file diffcrew may edit (binary, another encoding, generated, or a secret)"
    return None


async def plan_change(client: ModelClient, inputs: PlanInputs) -> Plan:
    """Let the model explore (read-only) for up to --plan-turns turns, then take its plan.

    `tool_choice` is `auto` on every turn (model-protocol.md §1), and the tools stay the same on
    every turn: the current models bind their thinking to everything before it, tools included,
    and refuse a conversation whose tools changed (the API's preserved-thinking pages; the
    protocol's "only plan_edits on the last turn" would break it), and an unchanged prefix keeps
    the prompt cache. The turn before the last says so in the conversation; exploring on the
    last turn, an invalid plan, a text-only answer or one cut at `max_tokens` is answered once in
    the same conversation; a second one ends the run.
    """
    ctx = inputs.context
    system = [{"type": "text", "text": prompts.render("orchestrator", "system"),
               "cache_control": {"type": "ephemeral"}}]
    user = prompts.render("orchestrator", "user", request=inputs.request, base=ctx.base, context=ctx.text)
    messages: list[dict[str, Any]] = [{"role": "user", "content": [
        {"type": "text", "text": user, "cache_control": {"type": "ephemeral"}}]}]
    tree = {e.path: e for e in (*ctx.files, *inputs.submodules)}
    source = ExploreSource(inputs.repo, ctx.base, ctx.text_paths)
    invalid, turn = 0, 0
    while True:
        turn += 1
        last = turn >= inputs.plan_turns or invalid > 0
        sent = cached_tail(messages) if turn > 1 else list(messages)
        request = ModelRequest(role="orchestrator", model=inputs.model, system=system, messages=sent,
                               tools=PLAN_TOOLS, max_tokens=PLAN_MAX_TOKENS, effort=inputs.effort)
        try:
            reply = await client.call(request)
            found = await answer_calls(source, reply.tool_calls()) if not last and _exploring(reply) else {}
            plan, problem, answers = _read_turn(reply, inputs, tree, found)
        except ModelError as exc:
            raise PlanError(f"planning failed: {exc}") from exc
        if plan is not None:
            return plan
        if problem:
            invalid += 1
            if invalid > 1 or turn > inputs.plan_turns:
                raise PlanError("the model's plan was still invalid after one re-ask: "
                                + problem.replace("\n", " ").strip())
        if turn + 1 == inputs.plan_turns and not problem:  # said in the conversation, not by removing tools
            answers = [*answers, {"type": "text", "text": prompts.render("reask", "last_turn", tool="plan_edits")}]
        messages.append(assistant_turn(reply))
        messages.append({"role": "user", "content": answers})


def cached_tail(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with its last block marked for prompt caching (a copy: the conversation
    itself keeps no marks, so at most one tail mark is ever sent, within the API's four).

    Each turn re-sends every earlier turn; with the tail marked, a turn reads all of that from
    the cache (the API looks back from a mark for the longest prefix written before) and pays
    full price only for what is new. The last turn is marked too: without a mark past the
    earlier tail, it could not read it.
    """
    last = messages[-1]
    content = last["content"]
    blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
    blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
    return [*messages[:-1], {**last, "content": blocks}]


def _exploring(reply: ModelReply) -> bool:
    """Whether the turn only calls exploration tools (and was not cut off)."""
    return exploring(reply, EXPLORE_NAMES)


def _read_turn(reply: ModelReply, inputs: PlanInputs, tree: dict[str, TreeEntry],
               found: Found) -> tuple[Plan | None, str, list[dict[str, Any]]]:
    """(a valid plan | None, the plan's problem if any, the next user content answering this turn).
    `found` holds the answers to this turn's exploration calls when they may still be answered."""
    ended = end_of_role(reply, "orchestrator")
    if ended is not None:
        raise ended
    calls = reply.tool_calls()
    exploring = _exploring(reply)
    if exploring and found:
        return None, "", [tool_result(c, found, inputs.emit) for c in calls]
    call, problem = expect_call(reply, "plan_edits", "orchestrator")
    if exploring:
        problem = prompts.render("reask", "no_more_turns", tool="plan_edits")
    if call is not None:
        try:
            plan = _parse_plan(call["input"], inputs.rules)
        except ValueError as exc:
            problem = f"The plan is malformed: {exc}. Call plan_edits again with a corrected plan."
        else:
            created = [e.path for e in plan.edits if e.action == "create"]
            ignored = ignored_paths(inputs.repo, created)
            problems = plan_problems(plan, tree, inputs.context.text_paths, inputs.rules, ignored)
            if not problems:
                return plan, "", []
            problem = ("The plan cannot be carried out:\n" + "\n".join(f"- {p}" for p in problems)
                       + "\nCall plan_edits again with a corrected plan.")
    if not calls:
        return None, problem, [{"type": "text", "text": problem}]
    return None, problem, [{"type": "tool_result", "tool_use_id": c["id"], "is_error": True, "content": problem}
                           for c in calls]


def _parse_plan(data: Any, rules: PlanRules) -> Plan:
    """The plan in `plan_edits` input; with a fixed scope, no edits at all means nothing to change."""
    if rules.scope is not None and isinstance(data, dict) and data.get("edits") == []:
        summary = data.get("summary")
        return Plan(summary.strip() if isinstance(summary, str) and summary.strip() else "nothing to change", ())
    return Plan.from_tool_input(data)
