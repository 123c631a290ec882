"""The synthesizer: the crew's results become one checked, reviewed tree, then one commit.

A round, top to bottom (`Synthesis.run`):
1. the results that change a file, each checked against its planned edit (`tree_changes`), and
   the tree they make on the base commit, built from git objects alone;
2. the checks, in a temporary worktree at the base commit (never the user's checkout): only
   failures that are new against the base count, and they go back to the workers whose files
   the output names, for --repair-rounds rounds;
3. the orchestrator's review of the combined change (agent/orchestrator.py `Review`): approval
   ends the loop; an amendment is carried out by the crew (new files are shown at the go-ahead
   prompt) and the round starts again, for at most --review-rounds reviews.
Then the gate (failed files need --allow-partial, failing checks --allow-failing), the commit
message (`write_summary`, or the plan summary when that call fails) and the commit on the new
branch. The user's working tree, index, HEAD and stash are never used.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import AbstractSet, Any, Callable

from diffcrew import prompts
from diffcrew.agent import __version__
from diffcrew.agent.config import RunOptions
from diffcrew.agent.conversation import expect_call
from diffcrew.agent.crew import Crew, failure_text
from diffcrew.agent.errors import BudgetExceeded, ExitCode, GitError, ModelError, RunFailed
from diffcrew.agent.events import ChecksDone, ChecksRunning, Emit, Reviewed, Reviewing, Warned
from diffcrew.agent.llm.protocol import ModelClient, ModelRequest
from diffcrew.agent.offloop import off_loop
from diffcrew.agent.orchestrator import ChangeState, Review, ReviewInputs, Verdict, merged_plan
from diffcrew.agent.planrules import PlanRules
from diffcrew.agent.scope import settings_problem
from diffcrew.agent.types import FileResult, Plan
from diffcrew.sandbox.checks import Check, CheckResult, run_checks
from diffcrew.sandbox.process import stop_all
from diffcrew.sandbox.settings import load_checks
from diffcrew.sandbox.workspace import Workspace
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


class PushFailed(GitError):
    """The branch exists locally, but the push did not go through."""

    exit_code = ExitCode.BRANCH_MADE


@dataclass
class Outcome:
    """What the run has produced so far, for the report (also when it fails half-way)."""

    plan: Plan | None = None
    results: list[FileResult] = field(default_factory=list)
    branch: str | None = None
    commit: str | None = None
    diffstat: str = ""
    diff: str = ""
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    partial: bool = False
    remote: str | None = None


@dataclass(frozen=True)
class SynthesisJob:
    """What synthesis needs of the run besides the crew and the model."""

    repo: GitRepo
    base: str
    run_id: str
    options: RunOptions
    tree: dict[str, TreeEntry]  # the base commit's files
    text_paths: AbstractSet[str]  # the files a plan may modify (RepoContext.text_paths)
    rules: PlanRules
    emit: Emit
    confirm: Callable[[Plan], bool]  # the go-ahead for an amendment that adds files


class Synthesis:
    """Check, review and repair the crew's change, round by round; then commit it."""

    def __init__(self, job: SynthesisJob, crew: Crew, client: ModelClient, outcome: Outcome) -> None:
        self.job, self.crew, self.client, self.outcome = job, crew, client, outcome
        self.check_rounds = 0
        self._unchanged: set[str] = set()  # files already warned about
        self._base_bytes: dict[str, bytes | None] = {}  # base content by path, read once per run

    async def run(self) -> str:
        """The id of the final tree, once the review approves or its rounds are used up; raises
        RunFailed when the result may not be committed (failed files, failing checks, declined)."""
        options = self.job.options
        checks = load_checks(self.job.repo.root, options.checks, options.run_pre_commit,
                             options.check_timeout) if options.run_checks else []
        review = Review(self.client, ReviewInputs(options.request, options.orchestrator_model, self.job.repo,
                                                  self.job.tree, self.job.text_paths, self.job.rules,
                                                  options.orchestrator_effort))
        with _sandbox(self.job) as workspace:
            for round_number in range(1, options.review_rounds + 2):
                last = round_number > options.review_rounds or not self.crew.plan.edits  # nothing to review
                tree = await self._check_and_repair(checks, workspace, last)
                if last:
                    break
                verdict = await self._review(review, tree, round_number)
                if verdict is None or verdict.amendment is None:
                    break
                await self._amend(verdict.amendment)
        self._gate(final=True)
        failing = [c for c in self.outcome.checks if c.new_failure]
        if failing and not options.allow_failing:
            names = ", ".join(f"{c.name} ({c.status})" for c in failing)
            raise RunFailed(f"checks failed after {options.repair_rounds} repair round(s), no branch was made: "
                            f"{names}; see the report for their output, or pass --allow-failing")
        return tree

    async def _check_and_repair(self, checks: list[Check], workspace: Workspace | None, last: bool) -> str:
        """The round's tree, checked and repaired for up to --repair-rounds rounds (no checks for
        `diffcrew fix`, or while files are missing that only the review could still bring)."""
        options = self.job.options
        for repair_round in range(options.repair_rounds + 1):
            changed = self._gate(final=last)
            changes = tree_changes(self.crew.plan, changed, self.job.tree)
            tree = self.job.repo.build_tree(self.job.base, changes)
            waiting = not last and not options.allow_partial and any(not r.ok for r in self.outcome.results)
            if workspace is None or not changed or waiting:
                return tree
            workspace.write(changes)
            emit = self.job.emit
            emit(ChecksRunning(self.check_rounds, tuple(c.name for c in checks)))
            self.check_rounds += 1
            work = functools.partial(run_checks, checks, workspace, self.job.repo, self.job.base,
                                     {c.path: c.data for c in changes})
            self.outcome.checks = await off_loop(work, on_cancel=stop_all)  # killed if the run is interrupted
            emit(ChecksDone(tuple(self.outcome.checks)))
            failing = [c for c in self.outcome.checks if c.new_failure]
            if not failing or repair_round == options.repair_rounds or not await self.crew.repair(failing):
                return tree
        raise AssertionError("unreachable")

    def _gate(self, *, final: bool) -> list[FileResult]:
        """The results that change a file. When `final`, failed files end the run unless
        --allow-partial, and so does an empty change."""
        options, outcome = self.job.options, self.outcome
        outcome.results = self.crew.ordered()
        failed = [r for r in outcome.results if not r.ok]
        if final and failed and not options.allow_partial:
            names = "; ".join(f"{r.path}: {r.error}" for r in failed)
            raise RunFailed(f"{len(failed)} of {len(outcome.results)} file(s) failed, no branch was made: {names}")
        changed = [r for r in outcome.results if r.ok and not self._unchanged_by(r)]
        for result in changed:
            self._keep_settings(result)
        if final and not changed:
            raise RunFailed("the change is empty: no file would change, so no branch was made")
        outcome.partial = bool(failed)
        return changed

    def _base(self, path: str) -> bytes | None:
        """The file as it is in the base commit (None: not there); every round asks again, so it is kept."""
        if path not in self._base_bytes:
            entry = self.job.tree.get(path)
            self._base_bytes[path] = self.job.repo.read_blob(entry.blob) if entry else None
        return self._base_bytes[path]

    def _unchanged_by(self, result: FileResult) -> bool:
        same = result.action == "modify" and self._base(result.path) == (result.new_text or "").encode("utf-8")
        if same and result.path not in self._unchanged:
            self._unchanged.add(result.path)
            self.job.emit(Warned(f"{result.path}: the worker's patch left it unchanged"))
        return same

    def _keep_settings(self, result: FileResult) -> None:
        """A change to diffcrew's own settings in pyproject.toml ends the run unless --allow-path allows it."""
        new = None if result.new_text is None else result.new_text.encode("utf-8")
        problem = settings_problem(result.path, self._base(result.path), new, self.job.options.allow_paths)
        if problem:
            raise RunFailed(problem)

    async def _review(self, review: Review, tree: str, round_number: int) -> Verdict | None:
        """The orchestrator's verdict on the change as it stands; None when the review could not be
        had (the model unreachable, or the budget spent): the change stands as checked, with a warning."""
        emit, options = self.job.emit, self.job.options
        emit(Reviewing(round_number))
        state = ChangeState(self.job.repo.diff(self.job.base, tree),
                            tuple(_outcome_line(r) for r in self.crew.ordered()),
                            tuple(f"- {path}: {note}" for path, note in self.crew.notes().items()),
                            tuple(failure_text(c) for c in self.outcome.checks if c.new_failure),
                            checked=options.run_checks)
        try:
            verdict = await review.ask(self.crew.plan, state, options.review_rounds - round_number)
        except (ModelError, BudgetExceeded) as exc:
            emit(Warned(f"the review failed, so the change was not reviewed: {exc}"))
            return None
        planned = {e.path for e in self.crew.plan.edits}
        edits = verdict.amendment.edits if verdict.amendment else ()
        reviewed = Reviewed(round_number, verdict.note, edits, tuple(e.path for e in edits if e.path not in planned))
        emit(reviewed)
        self.outcome.reviews.append(reviewed.to_dict())
        return verdict

    async def _amend(self, amendment: Plan) -> None:
        """Carry out an amendment; one that adds files needs the go-ahead, as the plan did."""
        amended = merged_plan(self.crew.plan, amendment)
        planned = {e.path for e in self.crew.plan.edits}
        added = [e.path for e in amendment.edits if e.path not in planned]
        if added and not self.job.confirm(amended):
            raise RunFailed(f"stopped: you declined the review's amendment (it adds {', '.join(added)}); "
                            "no branch was made")
        self.outcome.plan = amended
        await self.crew.amend(amended, amendment)

    async def commit(self, tree: str, summary: Summary, redact: Callable[[str], str]) -> None:
        """The commit on the new branch (and the push, if asked); the message keeps no secret."""
        job, outcome = self.job, self.outcome
        failing = tuple(c.name for c in outcome.checks if c.new_failure)
        changed = [r for r in outcome.results if r.ok and r.path not in self._unchanged]
        # The message is prose the model wrote around tokens that were restored for local use:
        # it keeps the tokens, never a secret (the files themselves hold the real values).
        options = job.options
        models = [("Orchestrator-Model", options.orchestrator_model), ("Worker-Model", options.worker_model)]
        if summary.from_model:
            models.append(("Synthesizer-Model", options.synthesizer_model))
        outcome.message = redact(commit_message(summary, outcome.plan or self.crew.plan, changed, job.run_id,
                                                [r for r in outcome.results if not r.ok], failing, outcome.reviews,
                                                models))
        commit = job.repo.commit_tree(tree, job.base, outcome.message, sign=bool(options.sign))
        job.repo.create_branch(outcome.branch or "", commit, reason=f"diffcrew run {job.run_id}")
        outcome.commit = commit
        if job.options.push:
            try:
                job.repo.push(job.options.push, outcome.branch or "")
            except GitError as exc:
                raise PushFailed(f"the branch {outcome.branch} was made, but pushing it to "
                                 f"{job.options.push} failed: {exc.summary}") from exc
            outcome.remote = job.options.push


class _NoSandbox:
    """A run that checks nothing (`diffcrew fix`) needs no worktree."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _sandbox(job: SynthesisJob) -> Workspace | _NoSandbox:
    return Workspace.create(job.repo, job.base, job.run_id) if job.options.run_checks else _NoSandbox()


def _outcome_line(result: FileResult) -> str:
    if not result.ok:
        return f"- {result.path} ({result.action}): FAILED, {result.error}"
    return f"- {result.path} ({result.action}): done in {result.attempts} attempt(s)" if result.attempts else \
        f"- {result.path} ({result.action}): done"


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
                   missing: list[FileResult], failing_checks: tuple[str, ...] = (),
                   reviews: list[dict[str, Any]] | None = None, models: list[tuple[str, str]] | None = None) -> str:
    """Title, body, one line per file with its instructions (a review's follow-ups included, and the
    files a review added marked), each review's verdict and the files it added or followed up, what
    was left out or fails, and the trailers: the run, diffcrew's version and the models that wrote
    the change (`models`: trailer name and model)."""
    landed = {r.path for r in results}
    added = {e["path"]: review["round"] for review in reviews or () for e in review["edits"] if e.get("added")}
    lines = [summary.title, ""]
    if summary.body:
        lines += [summary.body, ""]
    lines.append("Files:")
    for edit in plan.edits:  # the amended plan: a follow-up is in its file's instructions
        if edit.path in landed:
            by = f", added by review {added[edit.path]}" if edit.path in added else ""
            lines.append(f"- {edit.path} ({edit.action}{by}): {' '.join(edit.instructions.split())}")
    for review in reviews or ():
        note = " ".join(review["note"].split())
        if review["verdict"] == "approved":
            lines += ["", f"Review {review['round']} approved" + (f": {note}" if note else ".")]
            continue
        lines += ["", f"Review {review['round']} asked for more: {note}"]
        lines += [f"- {'added' if e.get('added') else 'follow-up for'} {e['path']}" for e in review["edits"]]
    if missing:
        lines += ["", "Left out (--allow-partial), these files failed:"]
        lines += [f"- {r.path}: {r.error}" for r in missing]
    if failing_checks:
        lines += ["", "Checks still failing (--allow-failing):"] + [f"- {name}" for name in failing_checks]
    lines += ["", f"Diffcrew-Run: {run_id}", f"Generated-by: diffcrew {__version__}"]
    lines += [f"{name}: {model}" for name, model in models or ()]
    return "\n".join(lines) + "\n"

