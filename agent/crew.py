"""The crew: one worker per planned file, run concurrently, and sent back to work when asked.

`Crew.start` runs every planned edit at once, at most --max-workers in flight (a delete needs no
model). With --warm-cache one worker goes first, and the others start once its answer has begun,
so that they read the shared prompt from the cache instead of each paying to write it.

Later rounds reuse the same conversations: `repair` sends check failures back to the workers whose
files they name, and `amend` carries out the review's amendment: a planned file's worker continues
its conversation with the follow-up instructions, and a new path gets a new worker that sees the
amended plan. The crew holds each file's latest result, in plan order.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import AbstractSet, Any, Callable

from diffcrew.agent.events import Emit, WorkerFinished, WorkerRepairing, WorkerRunning
from diffcrew.agent.exploring import ExploreSource
from diffcrew.agent.llm.protocol import ModelClient
from diffcrew.agent.types import FileEdit, FileResult, Plan
from diffcrew.agent.worker import Worker, WorkerJob, cache_lead, shared_blocks
from diffcrew.sandbox.checks import CheckResult
from diffcrew.tools.git import GitRepo, TreeEntry


@dataclass(frozen=True)
class CrewSetup:
    """What every worker of a run shares."""

    repo: GitRepo
    base: str
    tree: dict[str, TreeEntry]  # the base commit's files
    readable: AbstractSet[str]  # what workers may read and search (the context's text paths)
    request: str
    context: str  # the repository context the planner saw
    model: str
    repair_rounds: int
    effort: str | None
    max_workers: int
    warm_cache: bool
    worker_turns: int  # --worker-turns: turns a worker may read and search before its patch
    emit: Emit
    keep: Callable[[FileResult], None] = lambda result: None  # told each file's latest result (the transcript)


def failure_text(check: CheckResult) -> str:
    """A check's new failure as the models read it (a worker's repair, the review): name, status, output."""
    return f"Check `{check.name}` ({check.status}):\n{check.output}"


class Crew:
    """The workers of one run and their latest results."""

    def __init__(self, client: ModelClient, setup: CrewSetup, plan: Plan,
                 reused: dict[str, FileResult] | None = None) -> None:
        self.client = client
        self.setup = setup
        self.plan = plan
        self.workers: dict[str, Worker] = {}
        self.results: dict[str, FileResult] = {}
        self.reused = dict(reused or {})  # `diffcrew retry`: results a recorded run already paid for
        self._gate = asyncio.Semaphore(max(1, setup.max_workers))
        self._source = ExploreSource(setup.repo, setup.base, setup.readable)

    def ordered(self) -> list[FileResult]:
        """The latest result of each planned file, in plan order."""
        return [self.results[e.path] for e in self.plan.edits if e.path in self.results]

    async def start(self) -> None:
        """Every planned edit at once; with a lead (--warm-cache), the others wait for its answer to begin."""
        shared = shared_blocks(self.setup.request, self.plan, self.setup.context)
        fresh = Plan(self.plan.summary, tuple(e for e in self.plan.edits if e.path not in self.reused))
        lead = cache_lead(fresh, shared, self.setup.model) if self.setup.warm_cache else None
        warmed = asyncio.Event()
        for edit in self.plan.edits:
            if edit.action != "delete" and edit.path not in self.reused:
                self.workers[edit.path] = self._worker(edit, shared, warmed.set if edit.path == lead else None)

        async def one(edit: FileEdit) -> None:
            if edit.path in self.reused:  # no model call: the recorded result, as it was
                self._keep(self.reused[edit.path])
                return
            if lead is not None and edit.path != lead:
                await warmed.wait()
            try:
                await self._run(edit, lambda worker: worker.run())
            finally:
                if edit.path == lead:
                    warmed.set()

        await asyncio.gather(*(one(edit) for edit in self.plan.edits))

    async def repair(self, failing: list[CheckResult]) -> bool:
        """Send new check failures to the workers whose files they name (every changed file's
        worker when they name none); whether any worker sent a revision that applied."""
        editable = {r.path for r in self.results.values() if r.ok and r.path in self.workers}
        named = {path for check in failing for path in check.files if path in editable}

        async def revise(path: str) -> bool:
            own = [c for c in failing if path in c.files] or failing
            problem = "\n\n".join(failure_text(c) for c in own)
            before = self.results[path]
            result = await self._run_worker(path, lambda worker: worker.revise(problem),
                                            WorkerRepairing(path, f"{len(own)} check(s) failed"))
            if not result.ok:  # a failed revision leaves the last good patch in place
                self.results[path] = before
                self.setup.keep(before)
            return result.ok

        return any(await asyncio.gather(*(revise(path) for path in sorted(named or editable))))

    async def amend(self, plan: Plan, amendment: Plan) -> None:
        """Carry out the review's amendment under the amended `plan`: follow-ups for planned files,
        new workers for new paths (they see the amended plan), deletions without a model."""
        known = set(self.workers) | set(self.results)
        self.plan = plan
        shared = shared_blocks(self.setup.request, plan, self.setup.context)
        merged = {e.path: e for e in plan.edits}
        for edit in amendment.edits:
            if edit.path not in known and edit.action != "delete":
                self.workers[edit.path] = self._worker(edit, shared, None)
            elif edit.path in self.reused and edit.path not in self.workers and edit.action != "delete":
                # a reused result has no conversation to continue: its follow-up starts one on the amended edit
                self.workers[edit.path] = self._worker(merged[edit.path], shared, None)

        async def one(edit: FileEdit) -> None:
            if edit.path not in known:
                await self._run(edit, lambda worker: worker.run())
            elif edit.path in self.workers:
                await self._run_worker(edit.path, lambda worker: worker.follow_up(edit.instructions),
                                       WorkerRepairing(edit.path, "the review asked for more"))

        await asyncio.gather(*(one(edit) for edit in amendment.edits))

    def notes(self) -> dict[str, str]:
        """The workers' notes on what else the change needs, by file."""
        return {path: r.note for path, r in self.results.items() if r.note}

    def _worker(self, edit: FileEdit, shared: tuple[dict[str, Any], ...],
                on_start: Callable[[], None] | None) -> Worker:
        entry, setup = self.setup.tree.get(edit.path), self.setup

        def read() -> str | None:
            return setup.repo.read_blob(entry.blob).decode("utf-8") if entry else None

        return Worker(self.client, WorkerJob(edit, read, shared, setup.model, setup.repair_rounds, setup.effort,
                                             emit=setup.emit, on_start=on_start, source=self._source,
                                             explore_turns=setup.worker_turns))

    def _keep(self, result: FileResult) -> None:
        """`result` is its file's latest: held, recorded and shown."""
        self.results[result.path] = result
        self.setup.keep(result)
        self.setup.emit(WorkerFinished.of(result))

    async def _run(self, edit: FileEdit, step: Callable[[Worker], Any]) -> None:
        if edit.action == "delete":
            self._keep(FileResult(edit.path, "delete"))
            return
        await self._run_worker(edit.path, step)

    async def _run_worker(self, path: str, step: Callable[[Worker], Any],
                          starting: WorkerRunning | WorkerRepairing | None = None) -> FileResult:
        """One step of a worker's conversation under --max-workers; `starting` is what the views are
        told when it begins (a first run, or a repair or follow-up and why)."""
        async with self._gate:
            self.setup.emit(starting or WorkerRunning(path))
            result: FileResult = await step(self.workers[path])
        self._keep(result)
        return result

