"""Retries: a run that failed part-way, run again from what it recorded, paying only for what failed.

A run records its plan (`plan`, then each review's amendment in `review`) and, as each file's
result comes in, a `file` entry: its status and, for a file that got its new text, the id of that
text's git blob (written to the repository's object store; the transcript itself never holds file
content, which may hold secrets). `diffcrew retry RUN` starts from there: the same base commit
and options, the recorded plan (no planning call), every recorded good file reused as its blob
holds it (no model call, no cost), and new workers for the files that failed or never finished;
then the synthesis (checks, review, commit message) runs again, onto a new branch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from diffcrew.agent.config import RunOptions
from diffcrew.agent.orchestrator import merged_plan
from diffcrew.agent.replay import replay_options
from diffcrew.agent.runref import find_transcript
from diffcrew.agent.transcript import entry_of, read_transcript
from diffcrew.agent.types import FileEdit, FileResult, Plan
from diffcrew.tools.errors import UsageError
from diffcrew.tools.git import GitRepo

FILES_RECORDED = "files_recorded"  # the start record's mark: this run records its `file` entries
_DONE = ("ok", "dry-run")


@dataclass(frozen=True)
class Resume:
    """What a retry starts from: the recorded run, its plan and the results it keeps."""

    of: str  # the recorded run's id
    plan: Plan
    reused: dict[str, FileResult]
    again: tuple[str, ...]  # the planned files whose workers run again


def file_record(result: FileResult, blob: str | None) -> dict[str, Any]:
    """A file's latest result as the transcript keeps it (the text only as its blob id)."""
    return {"kind": "file", "path": result.path, "action": result.action, "ok": result.ok, "blob": blob,
            "error": result.error, "attempts": result.attempts, "tiers": list(result.tiers), "note": result.note}


def recorded_files(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each file's latest `file` entry."""
    return {e["path"]: e for e in entries if e.get("kind") == "file" and isinstance(e.get("path"), str)}


def recorded_plan(entries: list[dict[str, Any]]) -> Plan | None:
    """The plan as the run last held it: the one its end recorded (an amendment the user declined is
    not in it), else, for a run killed before its end, the planner's with each review's amendment
    merged in."""
    first = next((e["plan"] for e in entries if e.get("kind") == "plan"), None)
    if first is None:
        return None
    end: dict[str, Any] = next((e for e in reversed(entries) if e.get("kind") == "end"), {})
    held = end.get("plan", (end.get("report") or {}).get("plan"))
    if isinstance(held, dict):
        return Plan.from_tool_input(held)
    plan = Plan.from_tool_input(first)
    for review in (e for e in entries if e.get("kind") == "review" and e.get("verdict") == "amended"):
        edits = tuple(FileEdit(e["path"], e["action"], e["instructions"]) for e in review.get("edits") or ())
        if edits:
            plan = merged_plan(plan, Plan(plan.summary, edits))
    return plan


def _reusable(repo: GitRepo, edit: FileEdit, entry: dict[str, Any] | None) -> FileResult | None:
    """The recorded result of `edit`, when it succeeded and its text is still in the object store."""
    if entry is None or not entry.get("ok") or entry.get("action") != edit.action or not entry.get("blob"):
        return None
    try:
        text = repo.read_blob(str(entry["blob"])).decode("utf-8")
    except (ValueError, OSError, UnicodeDecodeError):  # pruned since (git gc), or not a blob id
        return None
    return FileResult(edit.path, edit.action, text, attempts=int(entry.get("attempts") or 0),
                      tiers=tuple(entry.get("tiers") or ()), note=entry.get("note"))


def load_retry(repo: GitRepo, run: str, branch: str | None) -> tuple[RunOptions, Resume]:
    """The options and starting point of a retry of `run`; a UsageError when there is nothing to retry."""
    path = find_transcript(repo, run)
    entries = read_transcript(path)
    start = entry_of(entries, "start")
    end = entry_of(entries, "end", last=True)
    run_id = start.get("run_id", path.stem)
    if end.get("status") in _DONE:
        made = f" (branch {end['branch']})" if end.get("branch") else ""
        raise UsageError(f"run {run_id} succeeded{made}; there is nothing to retry")
    if not start.get(FILES_RECORDED):
        raise UsageError(f"run {run_id} was recorded by an older diffcrew, which kept no result per file; "
                         "it cannot be retried: run its request again")
    plan = recorded_plan(entries)
    if plan is None:
        raise UsageError(f"run {run_id} stopped before its plan was made; there is nothing to reuse: "
                         "run its request again")
    files = recorded_files(entries)
    reused = {e.path: r for e in plan.edits if (r := _reusable(repo, e, files.get(e.path))) is not None}
    again = tuple(e.path for e in plan.edits if e.path not in reused)
    options = replace(replay_options(entries, repo.root, branch), push=(start.get("options") or {}).get("push"))
    return options, Resume(run_id, plan, reused, again)
