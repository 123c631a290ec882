"""A worker: one planned file, one conversation: prompt -> submit_patch -> apply -> repair rounds.

The prompt puts everything that is the same for all workers first (system prompt, request,
plan) and marks it for prompt caching; the worker's own file comes last. The diff is applied
in memory by the patch engine; when it does not apply, the engine's error goes back to the model
as a `tool_result` with `is_error: true`, up to `repair_rounds` times.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable

from diffcrew import prompts
from diffcrew.agent.errors import ModelError, PatchError
from diffcrew.agent.conversation import assistant_turn, expect_call, follow_up
from diffcrew.agent.events import Emit, WorkerRepairing, ignore
from diffcrew.agent.llm.protocol import ModelClient, ModelRequest
from diffcrew.agent.offloop import off_loop
from diffcrew.agent.types import FileEdit, FileResult, Plan
from diffcrew.agent.pricing import cache_minimum, estimate_cost
from diffcrew.tools.context import fenced
from diffcrew.tools.tokens import estimate_tokens, tokens_in
from diffcrew.tools.patch import Applied, apply_diff
from diffcrew.tools.strict import strict_tool

SUBMIT_PATCH_TOOL = strict_tool(
    "submit_patch", "Submit the complete unified diff of your one file against its base version; this ends your turn.",
    {"patch": {"type": "string", "description": "A unified diff of your file only, against its base version."},
     "note": {"type": "string", "description": "Optional: what else this change needs outside your file."}},
    ["patch"])
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


def shared_prompt_tokens(shared: tuple[dict[str, Any], ...]) -> int:
    """The estimated size of the part every worker's prompt starts with: instructions and shared blocks."""
    return estimate_tokens(prompts.render("worker", "system") + "".join(b["text"] for b in shared))


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


def _note(value: Any) -> str:
    """The worker's note, as one short paragraph (it is shown to the review and in reports)."""
    return " ".join(value.split())[:2000] if isinstance(value, str) else ""


class Worker:
    """One file's conversation with the model, kept so later checks can send failures back to it.

    `run()` asks for the first patch; `revise(problem)` continues the same conversation after
    the synthesizer's checks failed on this file. Each asks at most `repair_rounds + 1` times.
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
        self.result = FileResult(job.edit.path, job.edit.action, error="not started")
        self._system = [{"type": "text", "text": prompts.render("worker", "system"),
                         "cache_control": {"type": "ephemeral"}}]

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
        """Tell the model `text`: as the result of every call of its last turn, or, when the
        conversation ended on our side (a failed worker), added to our last message."""
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
        self.messages.append({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": c["id"], "is_error": is_error, "content": text} for c in calls]})

    def _request(self) -> ModelRequest:
        job = self.job
        return ModelRequest(role="worker", model=job.model, system=self._system, messages=list(self.messages),
                            tools=[SUBMIT_PATCH_TOOL], max_tokens=WORKER_MAX_TOKENS, path=job.edit.path,
                            effort=job.effort, on_start=job.on_start)

    async def _converse(self) -> FileResult:
        edit, job = self.job.edit, self.job
        problem, calls, cuts, call_number = "", job.repair_rounds + 1, 0, 0
        for call_number in range(1, calls + 1):
            self.attempts += 1
            try:
                reply = await self.client.call(self._request())
                call, problem = expect_call(reply, "submit_patch", "worker")
            except ModelError as exc:
                return FileResult(edit.path, edit.action, error=str(exc), attempts=self.attempts)
            if call is not None:
                patch = call["input"].get("patch")
                applied, problem = await off_loop(partial(_apply, edit, self.base, patch))  # CPU-bound
                if applied is not None:
                    self.messages.append(assistant_turn(reply))
                    self.current = applied.new_text
                    return FileResult(edit.path, edit.action, applied.new_text, call["input"]["patch"],
                                      attempts=self.attempts, tiers=tuple(h.tier for h in applied.hunks),
                                      note=_note(call["input"].get("note")))
            cuts += reply.stop_reason == "max_tokens"
            self.messages.extend(follow_up(reply, problem))
            if cuts >= 2:  # §2: a cut answer is re-asked once, then the role fails
                break
            if call_number < calls:
                job.emit(WorkerRepairing(edit.path, problem.splitlines()[0] if problem else ""))
        reason = problem.splitlines()[0] if problem else "no usable patch"
        return FileResult(edit.path, edit.action, attempts=self.attempts,
                          error=f"no usable patch after {call_number} attempt(s): {reason}")
