"""The synthesizer: deterministic checks, then one tree and one commit on a new branch.

It checks that the results match the plan one to one (each worker touched only its own path),
builds the new tree from the base commit plus every result (deletions included) in a throwaway
index, writes the commit message (from `write_summary`, or the plan summary when that call
fails), and creates the branch. The user's working tree, index, HEAD and stash are never used.
"""

from __future__ import annotations

from dataclasses import dataclass

from diffcrew import prompts
from diffcrew.agent.conversation import expect_call
from diffcrew.agent.errors import BudgetExceeded, ModelError, RunFailed
from diffcrew.agent.llm.protocol import ModelClient, ModelRequest
from diffcrew.agent.types import FileResult, Plan
from diffcrew.tools.git import GitRepo, TreeChange, TreeEntry
from diffcrew.tools.gitconst import FILE_MODE
from diffcrew.tools.strict import strict_tool

WRITE_SUMMARY_TOOL = strict_tool(
    "write_summary", "Write the commit message: a one-line title and a body for the reviewer.",
    {"title": {"type": "string", "description": "Imperative, at most 72 characters."},
     "body": {"type": "string", "description": "What changed and why."}},
    ["title", "body"])
# Thinking and the answer share max_tokens: a short message, but room for some thinking first.
SUMMARY_MAX_TOKENS = 8192
TITLE_LIMIT = 72


@dataclass(frozen=True)
class Summary:
    title: str
    body: str
    from_model: bool


def tree_changes(plan: Plan, results: list[FileResult], tree: dict[str, TreeEntry]) -> list[TreeChange]:
    """The changes to write, after checking each result against its planned edit."""
    planned = {e.path: e for e in plan.edits}
    changes, seen = [], set()
    for result in results:
        edit = planned.get(result.path)
        if edit is None or result.path in seen or edit.action != result.action:
            raise RunFailed(f"internal check failed: result for {result.path!r} does not match the plan")
        seen.add(result.path)
        if result.action == "delete":
            changes.append(TreeChange(result.path, None))
            continue
        if result.new_text is None:
            raise RunFailed(f"internal check failed: {result.path!r} has no new text")
        mode = tree[result.path].mode if result.path in tree else FILE_MODE
        changes.append(TreeChange(result.path, result.new_text.encode("utf-8"), mode))
    return changes


def _fallback(plan: Plan) -> Summary:
    first = plan.summary.split(". ")[0].strip().rstrip(".")
    title = first if len(first) <= TITLE_LIMIT else first[: TITLE_LIMIT - 1].rstrip() + "…"
    return Summary(title, plan.summary, from_model=False)


async def write_summary(client: ModelClient, model: str, request: str, plan: Plan, diffstat: str,
                        effort: str | None = None) -> Summary:
    """Ask the model for a commit title and body; fall back to the plan summary if that fails."""
    user = prompts.render("synthesizer", "user", request=request, summary=plan.summary, diffstat=diffstat)
    call_request = ModelRequest(role="synthesizer", model=model,
                                system=[{"type": "text", "text": prompts.render("synthesizer", "system")}],
                                messages=[{"role": "user", "content": user}], tools=[WRITE_SUMMARY_TOOL],
                                max_tokens=SUMMARY_MAX_TOKENS, effort=effort)
    try:
        reply = await client.call(call_request)
        call, _ = expect_call(reply, "write_summary", "synthesizer")
    except (ModelError, BudgetExceeded):  # the message is not worth failing a finished change for
        return _fallback(plan)
    if call is None:
        return _fallback(plan)
    title, body = call["input"].get("title"), call["input"].get("body")
    if not isinstance(title, str) or not title.strip() or not isinstance(body, str):
        return _fallback(plan)
    title = " ".join(title.split()).rstrip(".")
    if len(title) > TITLE_LIMIT:
        title = title[: TITLE_LIMIT - 1].rstrip() + "…"
    return Summary(title, body.strip(), from_model=True)


def commit_message(summary: Summary, plan: Plan, results: list[FileResult], run_id: str,
                   missing: list[FileResult], failing_checks: tuple[str, ...] = ()) -> str:
    """Title, body, one line per file with its instructions, what was left out or fails, and the trailer."""
    landed = {r.path for r in results}
    lines = [summary.title, ""]
    if summary.body:
        lines += [summary.body, ""]
    lines.append("Files:")
    for edit in plan.edits:
        if edit.path in landed:
            lines.append(f"- {edit.path} ({edit.action}): {' '.join(edit.instructions.split())}")
    if missing:
        lines += ["", "Left out (--allow-partial), these files failed:"]
        lines += [f"- {r.path}: {r.error}" for r in missing]
    if failing_checks:
        lines += ["", "Checks still failing (--allow-failing):"] + [f"- {name}" for name in failing_checks]
    lines += ["", f"Diffcrew-Run: {run_id}"]
    return "\n".join(lines) + "\n"


def build_tree(repo: GitRepo, base: str, plan: Plan, results: list[FileResult],
               tree: dict[str, TreeEntry]) -> str:
    """The id of the new tree: the base commit's tree with every result applied."""
    return repo.build_tree(base, tree_changes(plan, results, tree))
