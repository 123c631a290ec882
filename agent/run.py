"""The main flow of `diffcrew run`, top to bottom: context -> plan -> workers -> synthesize -> branch.

Open this file first. Everything the flow decides is here; the roles, the patch engine and git
live in their own modules. Nothing in this flow touches the user's working tree, index, HEAD or
stash: the base commit is captured once, files are read from it, and the result is one new
commit on one new branch (or, with --dry-run, only a diff).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from diffcrew.agent.config import RunOptions
from diffcrew.agent.errors import DiffcrewError, RunFailed, UsageError
from diffcrew.agent.llm import Ledger, ModelClient, TrackedClient
from diffcrew.agent.orchestrator import PlanInputs, plan_change
from diffcrew.agent.synthesizer import build_tree, commit_message, write_summary
from diffcrew.agent.transcript import Transcript
from diffcrew.agent.types import FileResult, Plan, RunReport
from diffcrew.agent.worker import Worker, WorkerJob, shared_blocks
from diffcrew.tools.context import build_context
from diffcrew.tools.git import GitRepo, TreeEntry

Event = Callable[[str, dict[str, Any]], None]


@dataclass
class RunHooks:
    """How the flow talks to its caller (the CLI): progress events, and the go-ahead after planning."""

    event: Event = lambda kind, data: None
    confirm: Callable[[Plan], bool] = lambda plan: True


@dataclass
class _Outcome:
    """What the run has produced so far, for the report (also when it fails half-way)."""

    plan: Plan | None = None
    results: list[FileResult] = field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
    diffstat: str = ""
    diff: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    partial: bool = False


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def slugify(text: str, limit: int = 40) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > limit:
            break
        slug = f"{slug}-{word}" if slug else word
    return slug or "change"


def choose_branch(repo: GitRepo, options: RunOptions, run_id: str) -> str:
    """The user's --branch (which must be new), or diffcrew/<slug>-<short id> made unique."""
    if options.branch:
        repo.check_branch_name(options.branch)
        if repo.branch_exists(options.branch):
            raise UsageError(f"branch {options.branch!r} already exists; pass another --branch")
        return options.branch
    name = f"diffcrew/{slugify(options.request)}-{run_id.rsplit('-', 1)[-1]}"
    candidate, n = name, 2
    while repo.branch_exists(candidate):
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def run_change(options: RunOptions, hooks: RunHooks, make_client: Callable[[], ModelClient]) -> RunReport:
    """Run the whole pipeline; usage errors raise before anything is written, later failures are reported."""
    if not options.request.strip():
        raise UsageError("the change request is empty: say what to change")
    repo = GitRepo(options.repo)
    base = repo.resolve(options.base)
    run_id = new_run_id()
    branch = None if options.dry_run else choose_branch(repo, options, run_id)
    transcript = Transcript(repo.common_dir / "diffcrew" / "runs" / f"{run_id}.jsonl")
    transcript.append({"kind": "start", "run_id": run_id, "request": options.request, "base": base,
                       "base_ref": options.base, "branch": branch, "dry_run": options.dry_run})
    ledger, outcome, started = Ledger(), _Outcome(branch=branch), time.monotonic()
    try:
        asyncio.run(_pipeline(repo, base, run_id, options, hooks, make_client, ledger, transcript, outcome))
        error = None
    except DiffcrewError as exc:
        error = exc
    report = _report(options, repo, base, run_id, outcome, ledger, time.monotonic() - started, error, transcript)
    transcript.append({"kind": "end", "status": report.status, "exit_code": report.exit_code,
                       "branch": report.branch, "commit": report.commit, "errors": list(report.errors)})
    transcript.close()
    return report


async def _pipeline(repo: GitRepo, base: str, run_id: str, options: RunOptions, hooks: RunHooks,
                    make_client: Callable[[], ModelClient], ledger: Ledger, transcript: Transcript,
                    outcome: _Outcome) -> None:
    context = build_context(repo, base, options.request, options.context_tokens)
    hooks.event("context", {"files": len(context.files), "tokens": context.tokens})
    client = TrackedClient(make_client(), ledger, transcript)
    try:
        plan = await plan_change(client, PlanInputs(options.request, options.model, context, context.text_paths))
        outcome.plan = plan
        transcript.append({"kind": "plan", "plan": plan.to_dict()})
        hooks.event("plan", {"plan": plan})
        _warn_uncommitted(repo, base, plan, outcome, hooks)
        if not hooks.confirm(plan):
            raise RunFailed("stopped before the workers started: you declined the plan")
        tree = {e.path: e for e in context.files}
        outcome.results = await _dispatch(client, repo, options, plan, tree, hooks)
        changed = _changed_results(outcome, tree, repo, options, hooks)
        new_tree = build_tree(repo, base, plan, changed, tree)
        outcome.diffstat = repo.diff(base, new_tree, stat=True)
        if options.dry_run:
            outcome.diff = repo.diff(base, new_tree)
            return
        summary = await write_summary(client, options.summary_model, options.request, plan, outcome.diffstat)
        failed = [r for r in outcome.results if not r.ok]
        outcome.message = commit_message(summary, plan, changed, run_id, failed)
        commit = repo.commit_tree(new_tree, base, outcome.message)
        repo.create_branch(outcome.branch or "", commit, reason=f"diffcrew run {run_id}")
        outcome.commit = commit
    finally:
        await client.aclose()


async def _dispatch(client: ModelClient, repo: GitRepo, options: RunOptions, plan: Plan,
                    tree: dict[str, TreeEntry], hooks: RunHooks) -> list[FileResult]:
    """One worker per modify/create edit, at most --max-workers at once; deletes need no model."""
    gate = asyncio.Semaphore(max(1, options.max_workers))
    shared = shared_blocks(options.request, plan)

    def repairing(path: str, problem: str) -> None:
        hooks.event("worker", {"path": path, "state": "repairing", "problem": problem})

    async def one(edit: Any) -> FileResult:
        if edit.action == "delete":
            result = FileResult(edit.path, "delete")
        else:
            entry = tree.get(edit.path)
            job = WorkerJob(edit, lambda: repo.read_blob(entry.blob).decode("utf-8") if entry else None,
                            shared, options.worker_model, options.repair_rounds, on_repair=repairing)
            async with gate:
                hooks.event("worker", {"path": edit.path, "state": "running"})
                result = await Worker(client, job).run()
        hooks.event("worker", {"path": edit.path, "state": "done" if result.ok else "failed",
                               "attempts": result.attempts, "error": result.error})
        return result

    return list(await asyncio.gather(*(one(edit) for edit in plan.edits)))


def _changed_results(outcome: _Outcome, tree: dict[str, TreeEntry], repo: GitRepo, options: RunOptions,
                     hooks: RunHooks) -> list[FileResult]:
    """The results that go into the commit; failures end the run unless --allow-partial."""
    failed = [r for r in outcome.results if not r.ok]
    if failed and not options.allow_partial:
        names = "; ".join(f"{r.path}: {r.error}" for r in failed)
        raise RunFailed(f"{len(failed)} of {len(outcome.results)} file(s) failed, no branch was made: {names}")
    changed = []
    for result in outcome.results:
        if not result.ok:
            continue
        entry = tree.get(result.path)
        if result.action == "modify" and entry and repo.read_blob(entry.blob) == (result.new_text or "").encode():
            outcome.warnings.append(f"{result.path}: the worker's patch left it unchanged")
            hooks.event("warning", {"message": outcome.warnings[-1]})
            continue
        changed.append(result)
    if not changed:
        raise RunFailed("the change is empty: no file would change, so no branch was made")
    outcome.partial = bool(failed)
    return changed


def _warn_uncommitted(repo: GitRepo, base: str, plan: Plan, outcome: _Outcome, hooks: RunHooks) -> None:
    dirty = repo.worktree_changes(base, [e.path for e in plan.edits if e.action != "create"])
    if dirty:
        outcome.warnings.append("uncommitted changes are not included (workers see the base commit): "
                                + ", ".join(dirty))
        hooks.event("warning", {"message": outcome.warnings[-1]})


def _report(options: RunOptions, repo: GitRepo, base: str, run_id: str, outcome: _Outcome, ledger: Ledger,
            seconds: float, error: DiffcrewError | None, transcript: Transcript) -> RunReport:
    if error is not None:
        status, code = "failed", error.exit_code
    elif options.dry_run:
        status, code = "dry-run", 0
    else:
        status, code = ("partial", 4) if outcome.partial else ("ok", 0)
    return RunReport(
        run_id=run_id, status=status, exit_code=code, request=options.request, repo=str(repo.root), base=base,
        base_ref=options.base, branch=outcome.branch if outcome.commit else None, commit=outcome.commit, plan=outcome.plan,
        results=tuple(outcome.results), usage_by_role=dict(ledger.by_role), cost_usd=ledger.cost_usd,
        duration_s=seconds, diffstat=outcome.diffstat, diff=outcome.diff, message=outcome.message,
        warnings=tuple(outcome.warnings), transcript=str(transcript.path),
        errors=(str(error),) if error is not None else ())
