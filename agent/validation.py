"""The synthesizer's checks: the merged result in a sandbox worktree, checked, repaired by its workers.

The result is written into a temporary worktree at the base commit (never the user's checkout),
the built-in syntax check and the user's configured checks run there, and only failures that
are new against the base count. New failures go back to the workers whose files the output
names (to every changed file's worker when it names none), in the same conversation, for
--repair-rounds rounds; then the worktree is rewritten and checked again.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
from diffcrew.agent.config import RunOptions
from diffcrew.agent.events import ChecksDone, ChecksRunning, Emit, WorkerFinished, WorkerRepairing
from diffcrew.agent.offloop import off_loop
from diffcrew.agent.synthesizer import tree_changes
from diffcrew.agent.types import FileResult, Plan
from diffcrew.agent.worker import Worker
from diffcrew.sandbox.checks import Check, CheckResult, run_checks
from diffcrew.sandbox.process import stop_all
from diffcrew.sandbox.settings import load_checks
from diffcrew.sandbox.workspace import Workspace
from diffcrew.tools.git import GitRepo, TreeChange, TreeEntry

@dataclass(frozen=True)
class CheckInputs:
    repo: GitRepo
    base: str
    run_id: str
    options: RunOptions
    plan: Plan
    tree: dict[str, TreeEntry]


@dataclass
class Checked:
    """The results after checking (and any repairs), and the last round's check results."""

    changed: list[FileResult]
    checks: list[CheckResult]
    by_path: dict[str, FileResult] = field(default_factory=dict)


async def check_and_repair(inputs: CheckInputs, changed: list[FileResult], workers: dict[str, Worker],
                           emit: Emit) -> Checked:
    """Check the merged result; send new failures back to the workers, up to --repair-rounds rounds."""
    options = inputs.options
    checks = load_checks(inputs.repo.root, options.checks, options.run_pre_commit, options.check_timeout)
    checked = Checked(changed, [])
    with Workspace.create(inputs.repo, inputs.base, inputs.run_id) as workspace:
        for round_number in range(options.repair_rounds + 1):
            changes = tree_changes(inputs.plan, checked.changed, inputs.tree)
            workspace.write(changes)
            emit(ChecksRunning(round_number, tuple(c.name for c in checks)))
            checked.checks = await _checks_in_thread(checks, workspace, inputs, changes)
            emit(ChecksDone(tuple(checked.checks)))
            failing = [c for c in checked.checks if c.new_failure]
            if not failing or round_number == options.repair_rounds:
                break
            revised = await _repair(failing, checked.changed, workers, emit)
            if not revised:
                break
            checked.by_path.update(revised)
            checked.changed = [revised.get(r.path, r) for r in checked.changed]
    return checked


async def _checks_in_thread(checks: list[Check], workspace: Workspace, inputs: CheckInputs,
                            changes: list[TreeChange]) -> list[CheckResult]:
    """Run the checks off the event loop; if the run is interrupted, kill them and wait for the
    thread, so the worktree is removed only once nothing runs in it any more."""
    work = functools.partial(run_checks, checks, workspace, inputs.repo, inputs.base, {c.path: c.data for c in changes})
    return await off_loop(work, on_cancel=stop_all)


async def _repair(failing: list[CheckResult], changed: list[FileResult], workers: dict[str, Worker],
                  emit: Emit) -> dict[str, FileResult]:
    """Ask the workers concerned for corrected patches; keep only the revisions that applied."""
    editable = {r.path for r in changed if r.path in workers}
    named = {path for check in failing for path in check.files if path in editable}
    targets = sorted(named or editable)

    async def revise(path: str) -> tuple[str, FileResult]:
        own = [c for c in failing if path in c.files] or failing
        problem = "\n\n".join(f"Check `{c.name}` ({c.status}):\n{c.output}" for c in own)
        emit(WorkerRepairing(path, f"{len(own)} check(s) failed"))
        result = await workers[path].revise(problem)
        emit(WorkerFinished.of(result))
        return path, result

    revised = await asyncio.gather(*(revise(path) for path in targets))
    return {path: result for path, result in revised if result.ok}
