"""A worker: one planned file, one conversation: prompt -> submit_patch -> apply -> repair rounds.

The prompt puts everything that is the same for all workers first (system prompt, request,
plan) and marks it for prompt caching; the worker's own file comes last. The diff is applied
in memory by the patch engine; when it does not apply, the engine's error goes back to the model
as a `tool_result` with `is_error: true`, up to `repair_rounds` times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from diffcrew import prompts
from diffcrew.agent.errors import ModelError, PatchError
from diffcrew.agent.llm import ModelClient, ModelRequest, answer_turns, single_tool_call
from diffcrew.agent.types import FileEdit, FileResult, Plan
from diffcrew.tools.context import fenced
from diffcrew.tools.patch import apply_diff

SUBMIT_PATCH_TOOL: dict[str, Any] = {
    "name": "submit_patch",
    "description": "Submit a unified diff that changes exactly your one file.",
    "input_schema": {
        "type": "object",
        "properties": {"patch": {"type": "string", "description": "A unified diff of your file only."}},
        "required": ["patch"],
    },
}
WORKER_MAX_TOKENS = 16_000


@dataclass(frozen=True)
class WorkerJob:
    """One worker's assignment. `read_text` is called only when the worker starts, so a large
    plan does not hold every file in memory at once."""

    edit: FileEdit
    read_text: Callable[[], str | None]
    shared: tuple[dict[str, Any], ...]
    model: str
    repair_rounds: int
    on_repair: Callable[[str, str], None] = lambda path, problem: None


def shared_blocks(request: str, plan: Plan) -> tuple[dict[str, Any], ...]:
    """The part of every worker's first message that is byte-identical across workers (cached)."""
    edits = "\n".join(f"- {e.path} ({e.action}): {e.instructions}" for e in plan.edits)
    text = prompts.render("worker", "shared", request=request, summary=plan.summary, edits=edits)
    return ({"type": "text", "text": text, "cache_control": {"type": "ephemeral"}},)


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


def _apply(edit: FileEdit, old_text: str | None, patch: Any, attempt: int) -> tuple[FileResult | None, str]:
    """The result of one submitted patch, or the problem to send back for repair."""
    if not isinstance(patch, str) or not patch.strip():
        return None, "The `patch` field was empty. Send the unified diff of your file in `patch`."
    try:
        applied = apply_diff(old_text, patch, edit.path)
    except PatchError as exc:
        return None, str(exc)
    if applied.new_text is None:
        return None, f"Your patch deletes {edit.path}; your task is to {edit.action} it. Send a diff that edits it."
    tiers = tuple(h.tier for h in applied.hunks)
    return FileResult(edit.path, edit.action, applied.new_text, patch, attempts=attempt, tiers=tiers), ""


async def run_worker(client: ModelClient, job: WorkerJob) -> FileResult:
    """Produce the new text of the job's file, repairing the patch when it does not apply."""
    edit = job.edit
    old_text = job.read_text() if edit.action == "modify" else None
    system = [{"type": "text", "text": prompts.render("worker", "system"), "cache_control": {"type": "ephemeral"}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": [*job.shared, _file_block(edit, old_text)]}]
    problem = ""
    attempts = job.repair_rounds + 1
    for attempt in range(1, attempts + 1):
        request = ModelRequest(role="worker", model=job.model, system=system, messages=list(messages),
                               tools=[SUBMIT_PATCH_TOOL], tool_choice={"type": "tool", "name": "submit_patch"},
                               max_tokens=WORKER_MAX_TOKENS, path=edit.path, stream=True)
        try:
            reply = await client.call(request)
        except ModelError as exc:
            return FileResult(edit.path, edit.action, error=str(exc), attempts=attempt)
        call, problem = single_tool_call(reply, "submit_patch")
        if call is not None:
            result, problem = _apply(edit, old_text, call["input"].get("patch"), attempt)
            if result is not None:
                return result
        messages.extend(answer_turns(reply, problem))
        if attempt < attempts:
            job.on_repair(edit.path, problem.splitlines()[0] if problem else "")
    reason = problem.splitlines()[0] if problem else "no usable patch"
    return FileResult(edit.path, edit.action, error=f"no usable patch after {attempts} attempt(s): {reason}",
                      attempts=attempts)
