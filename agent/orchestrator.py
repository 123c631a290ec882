"""The orchestrator: it plans the change, and later reviews what the workers made of it.

Planning (`plan_change`) calls the model with the `plan_edits` tool and read-only exploration
tools (model-protocol.md §3), checks the plan against the base commit's tree (agent/planrules.py),
and asks once more, saying what was wrong, when it is invalid.

The review (`Review`) is a second conversation of the same role, kept across review rounds: it
shows the combined change, each file's outcome, the workers' notes and the checks' new failures,
and takes `approve_change` or `amend_plan`. An amendment obeys the plan rules, with one re-ask.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import AbstractSet, Any

from diffcrew import prompts
from diffcrew.agent.errors import ModelError, PlanError
from diffcrew.agent.conversation import assistant_turn, end_of_role, expect_call, follow_up
from diffcrew.agent.events import Emit, ignore
from diffcrew.agent.exploring import ExploreSource, Found, answer_calls, exploring, tool_result
from diffcrew.agent.llm.protocol import ModelClient, ModelReply, ModelRequest
from diffcrew.agent.planrules import PlanRules, check_plan
from diffcrew.agent.pricing import estimate_cost
from diffcrew.agent.types import FileEdit, Plan
from diffcrew.tools.context import RepoContext, fenced
from diffcrew.tools.tokens import estimate_tokens, tokens_in
from diffcrew.tools.explore import EXPLORE_TOOLS
from diffcrew.tools.git import GitRepo, TreeEntry
from diffcrew.tools.strict import strict_tool

_EDITS = {"type": "array", "items": {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "Relative to the repository root, '/'-separated."},
        "action": {"type": "string", "enum": ["modify", "create", "delete"]},
        "instructions": {"type": "string", "description": "Everything this file's worker must do."}},
    "required": ["path", "action", "instructions"]}}
PLAN_EDITS_TOOL = strict_tool(
    "plan_edits", "Submit the plan: which files change, and what each file's worker must do. This ends planning.",
    {"summary": {"type": "string", "description": "One paragraph: what changes and why."}, "edits": _EDITS},
    ["summary", "edits"])
# Thinking and the answer share max_tokens: planning thinks the most of any role.
PLAN_MAX_TOKENS = 32_000
EXPLORE_NAMES = frozenset(t["name"] for t in EXPLORE_TOOLS)
PLAN_TOOLS = [*EXPLORE_TOOLS, PLAN_EDITS_TOOL]  # the same list on every turn of the conversation


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
            problems = check_plan(plan, inputs.repo, tree, inputs.context.text_paths, inputs.rules)
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


APPROVE_TOOL = strict_tool(
    "approve_change", "Approve the combined change: it does everything the request asks. This ends the review.",
    {"note": {"type": "string", "description": "Why the change is complete, in a sentence or two."}}, ["note"])
AMEND_PLAN_TOOL = strict_tool(
    "amend_plan", "Ask for what is still missing: further instructions for planned files, or new files. "
    "This ends the review.",
    {"summary": {"type": "string", "description": "What is still missing, and why."}, "edits": _EDITS},
    ["summary", "edits"])
REVIEW_TOOLS = [APPROVE_TOOL, AMEND_PLAN_TOOL]  # the same list on every turn of the conversation
REVIEW_NAMES = ("approve_change", "amend_plan")
REVIEW_MAX_TOKENS = 32_000
MAX_REVIEW_DIFF_CHARS = 200_000  # about 50k tokens of combined diff; the rest is cut with a note


@dataclass(frozen=True)
class Verdict:
    """The review's answer: approval with its note, or an amendment (its summary, and its edits)."""

    note: str
    amendment: Plan | None = None

    @property
    def approved(self) -> bool:
        return self.amendment is None


@dataclass(frozen=True)
class ReviewInputs:
    """What the review needs besides the client: the same rules as planning."""

    request: str
    model: str
    repo: GitRepo
    tree: dict[str, TreeEntry]
    text_paths: AbstractSet[str]
    rules: PlanRules
    effort: str | None = None


@dataclass(frozen=True)
class ChangeState:
    """What the review is shown of the change after a round: the combined diff (`diff --git`
    headers), each file's outcome and note, and the checks' new failures."""

    diff: str
    outcomes: tuple[str, ...]
    notes: tuple[str, ...]
    failures: tuple[str, ...]
    checked: bool  # False for `diffcrew fix`: no checks ran

    def render(self) -> str:
        diff, cut = self.diff[:MAX_REVIEW_DIFF_CHARS], len(self.diff) - MAX_REVIEW_DIFF_CHARS
        if cut > 0:
            diff += f"\n[cut: {cut:,} more characters]\n"
        failures = "\n\n".join(self.failures) if self.failures else (
            "None." if self.checked else "Not run (no checks run for this change).")
        return prompts.render("orchestrator", "review_state", outcomes="\n".join(self.outcomes),
                              notes="\n".join(self.notes) or "None.", failures=failures,
                              diff=fenced(diff or "(no change)\n", "diff"))


class Review:
    """The orchestrator's review conversation, kept across rounds."""

    def __init__(self, client: ModelClient, inputs: ReviewInputs) -> None:
        self.client = client
        self.inputs = inputs
        self.messages: list[dict[str, Any]] = []
        self._system = [{"type": "text", "text": prompts.render("orchestrator", "review_system"),
                         "cache_control": {"type": "ephemeral"}}]

    async def ask(self, plan: Plan, state: ChangeState, rounds_left: int) -> Verdict:
        """The verdict on the change as it stands under `plan`. ModelError when the model cannot
        be reached or declines; PlanError when its answer is still unusable after one re-ask."""
        text = prompts.render("orchestrator", "review_round", state=state.render(), rounds_left=str(rounds_left))
        if not self.messages:
            opening = prompts.render("orchestrator", "review_user", request=self.inputs.request,
                                     plan=plan_text(plan))
            self.messages.append({"role": "user", "content": [{"type": "text", "text": opening + "\n\n" + text}]})
        else:  # the last turn amended the plan: its call is answered with the new state
            self.messages.append({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": c["id"], "content": text}
                for c in self.messages[-1]["content"] if c.get("type") == "tool_use"]})
        for attempt in (1, 2):
            request = ModelRequest(role="review", model=self.inputs.model, system=self._system,
                                   messages=cached_tail(self.messages), tools=REVIEW_TOOLS,
                                   max_tokens=REVIEW_MAX_TOKENS, effort=self.inputs.effort)
            reply = await self.client.call(request)
            call, problem = expect_call(reply, REVIEW_NAMES, "review")
            verdict, problem = (None, problem) if call is None else self._verdict(plan, call)
            if verdict is not None:
                self.messages.append(assistant_turn(reply))
                return verdict
            if attempt == 2:
                raise PlanError("the review's answer was still unusable after one re-ask: "
                                + problem.replace("\n", " ").strip())
            self.messages.extend(follow_up(reply, problem))
        raise AssertionError("unreachable")

    def _verdict(self, plan: Plan, call: dict[str, Any]) -> tuple[Verdict | None, str]:
        data = call["input"]
        if call["name"] == "approve_change":
            note = data.get("note")
            return Verdict(" ".join(note.split()) if isinstance(note, str) else ""), ""
        try:
            amendment = Plan.from_tool_input(data)
        except ValueError as exc:
            return None, f"The amendment is malformed: {exc}. Call amend_plan again, or approve_change."
        problems = amendment_problems(plan, amendment, self.inputs)
        if problems:
            return None, ("The amendment cannot be carried out:\n" + "\n".join(f"- {p}" for p in problems)
                          + "\nCall amend_plan again with a corrected amendment, or approve_change.")
        return Verdict(amendment.summary, amendment), ""


REVIEW_OUTPUT_ESTIMATE = 1_000  # tokens a verdict usually takes, thinking included; an estimate, shown as one


def estimate_review_cost(request: str, plan: Plan, sizes: dict[str, int], model: str) -> float | None:
    """A rough price of the first review, before the workers start: its prompts with the plan, one
    outcome line per file, and a combined diff as large as the workers' estimate assumes (a third
    of each file, at least 300 tokens; a deleted file whole). Amendments and later rounds are not
    counted, as repairs are not. None when the model's price is unknown."""
    opening = prompts.render("orchestrator", "review_user", request=request, plan=plan_text(plan))
    state = ChangeState("", tuple(f"- {e.path} ({e.action}): done" for e in plan.edits), (), (), checked=True)
    shown = prompts.render("orchestrator", "review_round", state=state.render(), rounds_left="0")
    whole = {e.path: tokens_in(sizes.get(e.path, 0)) for e in plan.edits}
    diff = sum(whole[e.path] if e.action == "delete" else max(300, whole[e.path] // 3) for e in plan.edits)
    prompt = tokens_in(len(prompts.render("orchestrator", "review_system")) + len(opening) + len(shown)) + diff
    return estimate_cost(model, prompt, REVIEW_OUTPUT_ESTIMATE)


def amendment_problems(plan: Plan, amendment: Plan, inputs: ReviewInputs) -> list[str]:
    """Why an amendment cannot be carried out: the plan rules on the amended plan, and no planned
    file may change its action."""
    paths = [e.path for e in amendment.edits]
    repeated = sorted({p for p in paths if paths.count(p) > 1})
    if repeated:
        return [f"{p}: listed more than once; give each file one edit" for p in repeated]
    amended = merged_plan(plan, amendment)
    return action_problems(plan, amendment.edits) or check_plan(amended, inputs.repo, inputs.tree, inputs.text_paths,
                                                                inputs.rules)


def plan_text(plan: Plan) -> str:
    """A plan as the review reads it: its summary, then one line per file."""
    return plan.summary + "\n\n" + "\n".join(f"- {e.path} ({e.action}): {e.instructions}" for e in plan.edits)


def merged_plan(plan: Plan, amendment: Plan) -> Plan:
    """The plan after an amendment: a planned path gets the follow-up added to its instructions, a
    new path is added at the end."""
    follow_ups = {e.path: e for e in amendment.edits}
    edits = [replace(e, instructions=f"{e.instructions}\nFollow-up from the review: {follow_ups[e.path].instructions}")
             if e.path in follow_ups else e for e in plan.edits]
    planned = {e.path for e in plan.edits}
    return Plan(plan.summary, tuple([*edits, *(e for e in amendment.edits if e.path not in planned)]))


def action_problems(plan: Plan, amended: tuple[FileEdit, ...]) -> list[str]:
    """An amendment may give a planned file more instructions, never another action."""
    planned = {e.path: e.action for e in plan.edits}
    return [f"{e.path}: already planned as {planned[e.path]}; an amendment may give it further instructions, "
            f"not the action {e.action}" for e in amended if e.path in planned and planned[e.path] != e.action]
