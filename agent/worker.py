"""A worker: one planned file, one conversation: prompt -> [read, search] -> submit_patch -> apply -> repairs.

The prompt puts everything that is the same for all workers first (system prompt, request,
plan) and marks it for prompt caching; the worker's own file comes last. Before its patch the
worker may read other files and search the repository at the base commit (`read_file`,
`search_code`, answered like the planner's by agent/exploring.py) for at most `explore_turns`
turns. The diff is applied in memory by the patch engine; when it does not apply, the engine's
error goes back to the model as a `tool_result` with `is_error: true`, up to `repair_rounds` times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from diffcrew import prompts
from diffcrew.agent.config import DEFAULT_WORKER_TURNS
from diffcrew.agent.errors import ModelError, PatchError
from diffcrew.agent.conversation import assistant_turn, end_of_role, expect_call, follow_up
from diffcrew.agent.events import Emit, WorkerRepairing, ignore
from diffcrew.agent.exploring import ExploreSource, answer_calls, exploring, tool_result
from diffcrew.agent.llm.protocol import ModelClient, ModelReply, ModelRequest
from diffcrew.agent.offloop import off_loop
from diffcrew.agent.types import FileEdit, FileResult, Plan
from diffcrew.agent.pricing import cache_minimum, estimate_cost
from diffcrew.tools.context import fenced
from diffcrew.tools.explore import EXPLORE_TOOLS
from diffcrew.tools.tokens import estimate_tokens, tokens_in
from diffcrew.tools.patch import Applied, apply_diff
from diffcrew.tools.strict import strict_tool

SUBMIT_PATCH_TOOL = strict_tool(
    "submit_patch", "Submit the complete unified diff of your one file against its base version; this ends your turn.",
    {"patch": {"type": "string", "description": "A unified diff of your file only, against its base version."},
     "note": {"type": "string", "description": "Optional: what else this change needs outside your file."}},
    ["patch"])
# model-protocol.md §3: a worker may read and search (not list); the same tools on every turn.
WORKER_EXPLORE_TOOLS = [t for t in EXPLORE_TOOLS if t["name"] in ("read_file", "search_code")]
WORKER_EXPLORE_NAMES = frozenset(t["name"] for t in WORKER_EXPLORE_TOOLS)
WORKER_TOOLS = [*WORKER_EXPLORE_TOOLS, SUBMIT_PATCH_TOOL]
# Thinking and the answer share max_tokens: room for adaptive thinking plus a diff of a large file.
WORKER_MAX_TOKENS = 32_000
_METADATA = re.compile(r"^(old mode|new mode|rename from|rename to|copy from|copy to|similarity index"
                       r"|(new|deleted) file mode 1[26]0000)\b", re.MULTILINE)


@dataclass(frozen=True)
class WorkerJob:
    """One worker's assignment. `read_text` is called only when the worker starts, so a large
    plan does not hold every file in memory at once."""

    edit: FileEdit
    read_text: Callable[[], str | None]
    shared: tuple[dict[str, Any], ...]
    model: str
    repair_rounds: int
    effort: str | None = None
    emit: Emit = ignore  # the run's progress: WorkerRepairing when a patch goes back to the model
    on_start: Callable[[], None] | None = None  # told when the first answer begins (--warm-cache)
    source: ExploreSource | None = None  # what read_file / search_code read (None: they are refused)
    explore_turns: int = 0  # --worker-turns: turns the worker may read and search before its patch


def worker_system(turns: int) -> str:
    """The worker's instructions when it may explore for `turns` turns (0: not at all)."""
    explore = prompts.render("worker", "explore_some", turns=str(turns)) if turns > 0 else \
        prompts.render("worker", "explore_none")
    return prompts.render("worker", "system", explore=explore)


def shared_blocks(request: str, plan: Plan, context: str) -> tuple[dict[str, Any], ...]:
    """The part of every worker's first message that is byte-identical across workers and marked
    for prompt caching: the repository context the planner saw, the request and the whole plan."""
    edits = "\n".join(f"- {e.path} ({e.action}): {e.instructions}" for e in plan.edits)
    text = prompts.render("worker", "shared", context=context, request=request, summary=plan.summary, edits=edits)
    return ({"type": "text", "text": text, "cache_control": {"type": "ephemeral"}},)


def cache_lead(plan: Plan, shared: tuple[dict[str, Any], ...], model: str) -> str | None:
    """The worker that goes first under --warm-cache, so that the others read the shared prompt
    from the cache instead of each paying to write it: None when there are fewer than two
    workers, or when the shared prompt is below what the API caches at all on `model`."""
    writers = [e.path for e in plan.edits if e.action != "delete"]
    return writers[0] if len(writers) >= 2 and shared_prompt_tokens(shared) >= cache_minimum(model) else None


def shared_prompt_tokens(shared: tuple[dict[str, Any], ...], turns: int = DEFAULT_WORKER_TURNS) -> int:
    """The estimated size of the part every worker's prompt starts with: instructions (as they read
    with `turns` turns to explore) and shared blocks."""
    return estimate_tokens(worker_system(turns) + "".join(b["text"] for b in shared))


def estimate_worker_cost(plan: Plan, shared: tuple[dict[str, Any], ...], sizes: dict[str, int],
                         model: str) -> float | None:
    """A rough price of the workers before they start: each sends the prompt and its file once and
    writes a diff about a third of the file's size (at least 300 tokens); repairs are not counted."""
    prompt = shared_prompt_tokens(shared)
    total = 0.0
    for edit in plan.edits:
        if edit.action == "delete":
            continue
        file_tokens = tokens_in(sizes.get(edit.path, 0))
        cost = estimate_cost(model, prompt + file_tokens, max(300, file_tokens // 3))
        if cost is None:
            return None
        total += cost
    return total


def _file_block(edit: FileEdit, old_text: str | None) -> dict[str, Any]:
    if old_text is None:
        content = "The file does not exist yet: create it (diff from /dev/null)."
    elif old_text == "":
        content = "The file exists and is empty."
    else:
        content = "Current content:\n\n" + fenced(old_text)
    text = prompts.render("worker", "file", path=edit.path, action=edit.action,
                          instructions=edit.instructions, content=content)
    return {"type": "text", "text": text}


def _apply(edit: FileEdit, old_text: str | None, patch: Any) -> tuple[Applied | None, str]:
    """The engine's result for one submitted patch, or the problem to send back for repair."""
    if not isinstance(patch, str) or not patch.strip():
        return None, "The `patch` field was empty. Send the unified diff of your file in `patch`."
    if _METADATA.search(patch):
        return None, (f"Your patch changes file metadata (a mode, a rename, a copy or a symlink); only the "
                      f"content of {edit.path} may change. Send a diff of its content alone.")
    try:
        applied = apply_diff(old_text, patch, edit.path)
    except PatchError as exc:
        return None, str(exc)
    if applied.new_text is None:
        return None, f"Your patch deletes {edit.path}; your task is to {edit.action} it. Send a diff that edits it."
    return applied, ""


class Worker:
    """One file's conversation with the model, kept so later checks can send failures back to it.

    `run()` asks for the first patch; `revise(problem)` continues the same conversation after
    the synthesizer's checks failed on this file. Each takes at most `repair_rounds + 1` answers
    that are not exploration; the conversation answers at most `explore_turns` exploring turns
    in all (a later one is refused, and that refusal is a repair round).
    Every patch, repairs included, is the complete diff against the base version (`self.base`),
    so a later patch replaces the earlier one (model-protocol.md §3).
    """

    def __init__(self, client: ModelClient, job: WorkerJob) -> None:
        self.client = client
        self.job = job
        self.messages: list[dict[str, Any]] = []
        self.base: str | None = None  # the text every patch applies to
        self.current: str | None = None  # the text the last accepted patch produced
        self.attempts = 0
        self.explored = 0  # exploring turns answered so far
        self.result = FileResult(job.edit.path, job.edit.action, error="not started")
        self._turns = job.explore_turns if job.source is not None else 0
        self._system = [{"type": "text", "text": worker_system(self._turns), "cache_control": {"type": "ephemeral"}}]

    async def run(self) -> FileResult:
        """Produce the new text of the job's file, repairing the patch when it does not apply."""
        edit = self.job.edit
        self.base = self.job.read_text() if edit.action == "modify" else None
        self.current = self.base
        self.messages = [{"role": "user", "content": [*self.job.shared, _file_block(edit, self.base)]}]
        self.result = await self._converse()
        return self.result

    async def revise(self, problem: str) -> FileResult:
        """Send a check failure back as the answer to the accepted patch, and take a corrected one."""
        if not self.result.ok or not self.messages or self.messages[-1]["role"] != "assistant":
            return self.result
        text = prompts.render("worker", "check_failed", problem=problem, result=fenced(self.current or ""),
                              path=self.job.edit.path)
        self._answer(text, is_error=True)
        self.result = await self._converse()
        return self.result

    async def follow_up(self, instructions: str) -> FileResult:
        """The review's further instructions for this file, in the same conversation (a failed one too)."""
        if not self.messages:
            return await self.run()
        text = prompts.render("worker", "follow_up", instructions=instructions, result=fenced(self.current or ""),
                              path=self.job.edit.path)
        self._answer(text, is_error=False)
        self.result = await self._converse()
        return self.result

    def _answer(self, text: str, *, is_error: bool) -> None:
        """Tell the model `text`: as the result of its last turn's submit_patch (its other calls are
        answered as not run), or, when the conversation ended on our side (a failed worker), added
        to our last message."""
        last = self.messages[-1]
        if last["role"] == "user":
            content = last["content"] if isinstance(last["content"], list) else \
                [{"type": "text", "text": last["content"]}]
            self.messages[-1] = {**last, "content": [*content, {"type": "text", "text": text}]}
            return
        calls = [c for c in last["content"] if c.get("type") == "tool_use"]
        if not calls:
            self.messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
            return
        not_run = prompts.render("worker", "not_run")  # the API wants an answer to every call of the turn
        self.messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c["id"], "is_error": is_error,
             "content": text if c.get("name") == "submit_patch" else not_run} for c in calls]})

    def _request(self) -> ModelRequest:
        job = self.job
        return ModelRequest(role="worker", model=job.model, system=self._system, messages=list(self.messages),
                            tools=WORKER_TOOLS, max_tokens=WORKER_MAX_TOKENS, path=job.edit.path,
                            effort=job.effort, on_start=job.on_start)

    async def _converse(self) -> FileResult:
        edit, job = self.job.edit, self.job
        problem, answers, cuts, taken = "", job.repair_rounds + 1, 0, 0
        note = self.result.note  # a repair without a note keeps the earlier one
        while taken < answers:
            self.attempts += 1
            try:
                reply = await self.client.call(self._request())
                ended = end_of_role(reply, "worker")  # a refusal ends the role, whatever it called
                if ended is not None:
                    raise ended
                if exploring(reply, WORKER_EXPLORE_NAMES) and self.explored < self._turns:
                    await self._explore(reply)
                    continue
                taken += 1
                if exploring(reply, WORKER_EXPLORE_NAMES):
                    call, problem = None, prompts.render("worker", "no_more_turns")
                else:
                    call, problem = expect_call(reply, "submit_patch", "worker")
            except ModelError as exc:
                return FileResult(edit.path, edit.action, error=str(exc), attempts=self.attempts, note=note)
            if call is not None:
                patch = call["input"].get("patch")
                applied, problem = await off_loop(partial(_apply, edit, self.base, patch))  # CPU-bound
                if applied is not None:
                    self.messages.append(assistant_turn(reply))
                    self.current = applied.new_text
                    return FileResult(edit.path, edit.action, applied.new_text, call["input"]["patch"],
                                      attempts=self.attempts, tiers=tuple(h.tier for h in applied.hunks),
                                      note=_note(call["input"]) or note)
            cuts += reply.stop_reason == "max_tokens"
            self.messages.extend(follow_up(reply, problem))
            if cuts >= 2:  # §2: a cut answer is re-asked once, then the role fails
                break
            if taken < answers:
                job.emit(WorkerRepairing(edit.path, problem.splitlines()[0] if problem else ""))
        reason = problem.splitlines()[0] if problem else "no usable patch"
        return FileResult(edit.path, edit.action, attempts=self.attempts, note=note,
                          error=f"no usable patch after {taken} attempt(s): {reason}")

    async def _explore(self, reply: ModelReply) -> None:
        """Answer an exploring turn from the base commit (off the event loop); after the last
        one allowed, say in the conversation that only submit_patch remains (the tools stay)."""
        assert self.job.source is not None  # no turns to explore without a source
        calls = reply.tool_calls()
        found = await answer_calls(self.job.source, calls)
        self.explored += 1
        answers = [tool_result(c, found, self.job.emit, self.job.edit.path) for c in calls]
        if self.explored == self._turns:
            answers.append({"type": "text", "text": prompts.render("worker", "last_turn")})
        self.messages += [assistant_turn(reply), {"role": "user", "content": answers}]


def _note(tool_input: dict[str, Any]) -> str | None:
    """The `note` of a submit_patch call, if it says anything."""
    note = tool_input.get("note")
    return note.strip() if isinstance(note, str) and note.strip() else None
