"""The main flow of `diffcrew run`, top to bottom: context -> plan -> crew -> synthesize -> commit.

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
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from typing import AbstractSet, Any, Callable, Literal

from diffcrew.agent.config import MAX_REQUEST_BYTES, RunOptions
from diffcrew.agent.errors import (BudgetExceeded, DiffcrewError, ExitCode, Interrupted, RunFailed,
                                   UsageError)
from diffcrew.agent.events import ContextRead, Event, Planned, Progress, Warned
from diffcrew.agent.limits import AdaptiveLimit
from diffcrew.agent.ledger import Ledger
from diffcrew.agent.llm import sdkimport
from diffcrew.agent.llm.protocol import ModelClient
from diffcrew.agent.llm.tracked import TrackedClient
from diffcrew.agent.crew import Crew, CrewSetup
from diffcrew.agent.orchestrator import PlanInputs, estimate_review_cost, plan_change
from diffcrew.agent.planrules import PlanRules, check_plan
from diffcrew.agent.retry import FILES_RECORDED, Resume, file_record
from diffcrew.agent.runref import short_id
from diffcrew.agent.signals import interrupt_code, interrupt_reason, like_ctrl_c
from diffcrew.agent.synthesizer import Outcome, Synthesis, SynthesisJob, write_summary
from diffcrew.agent.transcript import Transcript
from diffcrew.agent.types import FileResult, Plan, RunReport
from diffcrew.agent.worker import estimate_worker_cost, shared_blocks
from diffcrew.tools.context import build_context
from diffcrew.tools.difftext import git_diff
from diffcrew.sandbox import load_checks, prune_stale
from diffcrew.tools.git import GitRepo, TreeEntry
from diffcrew.tools.gitcheck import clashing_branches, reach_remote, valid_branch_name
from diffcrew.tools.redact import Redactor, repository_key
from diffcrew.tools.scratch import scratch
from diffcrew.tools.statedir import transcript_path, writable_state


def options_record(options: RunOptions) -> dict[str, Any]:
    """The options as the transcript keeps them (what a replay needs to run the same way)."""
    return {k: list(v) if isinstance(v, tuple) else v
            for k, v in asdict(options).items() if k not in ("request", "repo")}


def new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def slugify(text: str, limit: int = 40) -> str:
    """The request's first words as a branch-name part: `Rename Config.load` -> `rename-config-load`.

    Latin letters lose their accents (`ünïcödé` -> `unicode`); letters of other scripts stay as
    they are (`переименовать`, `重命名`), which git allows in a branch name; anything else separates words.
    """
    words = re.findall(r"[^\W_]+", "".join(_plain_letter(c) for c in text.casefold()))
    slug = ""
    for word in words:
        if len(slug) + len(word) + 1 > limit:
            break
        slug = f"{slug}-{word}" if slug else word
    return slug or "change"


def _plain_letter(char: str) -> str:
    """`char` without its accents when it is an accented Latin letter (NFKD: base letter and marks), else as it is."""
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if not base:  # a combining mark on its own (casefold leaves one after `İ`): part of the letter before
        return ""
    return base if base.isascii() and base.isalnum() else char


def choose_branch(repo: GitRepo, options: RunOptions, run_id: str) -> str:
    """The user's --branch (which must be new, and creatable), or diffcrew/<slug>-<short id> made unique.

    Either is checked as git will make it, before the first model call: a valid ref name, and no
    branch that it cannot live beside (`main` for `main/sub`, `diffcrew/x` for `diffcrew`)."""
    if options.branch:
        name = options.branch
        if not valid_branch_name(repo, name):
            raise UsageError(f"--branch {name}: not a valid branch name for git (git check-ref-format); "
                             "pass another --branch")
        clash = clashing_branches(repo, name)
        if name in clash:
            raise UsageError(f"branch {name!r} already exists; pass another --branch")
        if clash:
            raise UsageError(f"--branch {name}: git cannot make it beside the existing branch {clash[0]!r} "
                             "(a branch name cannot also be a folder of branch names); pass another --branch")
        return name
    name = f"{options.branch_prefix}{slugify(options.request)}-{short_id(run_id)}"
    if not valid_branch_name(repo, name):
        raise UsageError(f"branch_prefix {options.branch_prefix!r} gives the branch name {name!r}, which git does "
                         "not allow; set another branch_prefix, or pass --branch NAME")
    candidate, n = name, 2
    while clash := clashing_branches(repo, candidate):
        folder = next((b for b in clash if candidate.startswith(b + "/")), None)
        if folder is not None:  # a new suffix cannot help: the folder itself is a branch
            raise UsageError(f"the default branch name {candidate} cannot be made beside the existing branch "
                             f"{folder!r} (a branch name cannot also be a folder of branch names); pass --branch "
                             "NAME, or set branch_prefix in the config")
        candidate, n = f"{name}-{n}", n + 1
    return candidate


def check_remote(repo: GitRepo, remote: str) -> None:
    """A UsageError for a --push remote that is not configured, or that does not answer `git ls-remote`."""
    if not repo.has_remote(remote):
        raise UsageError(f"--push: no remote named {remote!r} (write the remote after --push, e.g. "
                         "--push origin, and the request last)")
    problem = reach_remote(repo, remote)
    if problem is not None:
        raise UsageError(f"--push {remote}: the remote cannot be reached ({problem}); fix its URL or your access "
                         "(git ls-remote must work), or run without --push")


def check_request(request: str) -> None:
    """A UsageError for a request that is empty, not UTF-8, or too long to be a description."""
    if not request.strip():
        raise UsageError("the change request is empty: say what to change")
    bad = next((i for i, c in enumerate(request) if "\ud800" <= c <= "\udfff"), None)
    if bad is not None:  # bytes that are not UTF-8 arrive from argv and stdin as lone surrogates
        raise UsageError(f"the change request is not valid UTF-8 text (at character {bad + 1}): "
                         "write it in UTF-8, or pass it with --message-file")
    size = len(request.encode("utf-8"))
    if size > MAX_REQUEST_BYTES:
        raise UsageError(f"the change request is {size:,} bytes; the limit is {MAX_REQUEST_BYTES:,}: "
                         "describe the change, do not paste the code")


def run_change(options: RunOptions, progress: Progress, make_client: Callable[[], ModelClient],
               resume: Resume | None = None) -> RunReport:
    """Run the whole pipeline; usage errors raise before anything is written, later failures are reported.
    With `resume` (`diffcrew retry`), the recorded plan is used and the recorded good files are reused."""

    check_request(options.request)
    repo = GitRepo(options.repo)
    base = repo.resolve(options.base)
    writable_state(repo.common_dir)  # one clear line, before anything else, when .git is read-only
    scratch(repo.common_dir)  # the same for its scratch folder; prunes what killed runs left there
    run_id = new_run_id()
    # A dry run checks a --branch it was given too, and makes none (so the default name is not its concern).
    branch = choose_branch(repo, options, run_id) if options.branch or not options.dry_run else None
    if options.dry_run:
        branch = None
    if options.push:
        check_remote(repo, options.push)
    if options.run_checks:  # a check that cannot run is refused before the first model call
        load_checks(repo.root, options.checks, options.run_pre_commit, options.check_timeout)
    sign = not options.dry_run and (repo.signs_commits() if options.sign is None else options.sign)
    if sign:
        # before anything is spent: a key that is missing or locked
        repo.check_signing(base, "commit.gpgsign" if options.sign is None else "--sign")
    if options.run_checks:
        prune_stale(repo)  # worktrees left by runs that were killed
    sdkimport.start()  # `diffcrew run`: the input is checked, so the import no longer races a usage error
    redactor = Redactor(key=repository_key(repo.common_dir))
    transcript = Transcript(transcript_path(repo.common_dir, run_id), redactor.redact_value)
    transcript.append({"kind": "start", "run_id": run_id, "request": options.request, "base": base,
                       "base_ref": options.base, "branch": branch, "dry_run": options.dry_run,
                       "options": options_record(options), FILES_RECORDED: True,
                       **({"retry_of": resume.of} if resume else {})})
    run = _Run(repo, base, run_id, replace(options, sign=sign), progress, transcript,
               Ledger(max_cost=options.max_cost), Outcome(branch=branch), redactor=redactor, resume=resume)
    started = time.monotonic()
    try:
        with like_ctrl_c():  # SIGTERM and SIGHUP too
            asyncio.run(run.within_timeout(make_client))
        error = None
    except DiffcrewError as exc:
        error = exc
    except KeyboardInterrupt:  # workers are cancelled and the sandbox removed by the time we get here
        interrupted = _interrupted(run)
        try:  # what --json and --stream-json print last: how far the run got
            interrupted.report = _report(run, time.monotonic() - started - run.waited, interrupted)
        except Exception:  # noqa: BLE001 - never let the report hide the interruption
            pass
        raise interrupted from None
    except Exception as exc:  # a bug: the traceback stays (for the report), but the record is closed
        made = run.outcome.commit
        transcript.append({"kind": "end", "status": "crashed", "exit_code": ExitCode.FAILED, "commit": made,
                           "branch": run.outcome.branch if made else None, "plan": _held(run),
                           "errors": [f"{type(exc).__name__}: {exc}"[:1000]]})
        transcript.close()
        raise
    report = _report(run, time.monotonic() - started - run.waited, error)
    transcript.append({"kind": "end", "status": report.status, "exit_code": report.exit_code,
                       "branch": report.branch, "commit": report.commit, "errors": list(report.errors),
                       "report": {k: v for k, v in report.to_dict().items() if k != "diff"}})
    transcript.close()
    return report


def _held(run: "_Run") -> dict[str, Any] | None:
    """The plan as the run holds it now (with the amendments carried out), for a retry."""
    return run.outcome.plan.to_dict() if run.outcome.plan else None


def _interrupted(run: "_Run") -> Interrupted:
    """Close the transcript of an interrupted run; the error saying what is left (a branch, or nothing)."""
    made = run.outcome.branch if run.outcome.commit else None
    code, reason = interrupt_code(), interrupt_reason()
    run.transcript.append({"kind": "end", "status": "interrupted", "exit_code": code, "branch": made,
                           "commit": run.outcome.commit, "plan": _held(run)})
    run.transcript.close()
    if made:
        return Interrupted(f"{reason} after the branch {made} was made (commit {(run.outcome.commit or '')[:12]}); "
                           "nothing else changed", code, branch=made)
    return Interrupted(f"{reason}; your repository is unchanged", code)


@dataclass
class _Run:
    """One run's fixed inputs and what it has produced so far."""

    repo: GitRepo
    base: str
    run_id: str
    options: RunOptions
    progress: Progress
    transcript: Transcript
    ledger: Ledger
    outcome: Outcome
    tree: dict[str, TreeEntry] = field(default_factory=dict)
    redactor: Redactor = field(default_factory=Redactor)
    resume: Resume | None = None  # `diffcrew retry`: the recorded plan and the results it reuses
    waited: float = 0.0  # seconds spent waiting for the user's go-ahead

    async def within_timeout(self, make_client: Callable[[], ModelClient]) -> None:
        """The pipeline under --timeout; secrets redacted on the way are reported either way."""
        try:
            await asyncio.wait_for(self.pipeline(make_client), self.options.timeout)
        except asyncio.TimeoutError:
            raise BudgetExceeded(f"the run took longer than --timeout {self.options.timeout:g} s; "
                                 "no branch was made") from None
        finally:
            if self.redactor.count:
                self._warn(f"{self.redactor.count} secret-looking string(s) were redacted before anything was "
                           "sent to the model")

    async def pipeline(self, make_client: Callable[[], ModelClient]) -> None:
        """Context, plan, crew, synthesis (checks, review, repair), then a commit on the new branch."""
        options, outcome = self.options, self.outcome
        context = build_context(self.repo, self.base, options.request, options.context_tokens, deny=options.deny,
                                max_file_bytes=options.max_file_bytes)
        self.tree = {e.path: e for e in context.files}
        submodules = tuple(self.repo.gitlinks(self.base))
        if submodules:
            self._warn("submodules are not edited: " + ", ".join(e.path for e in submodules))
        self._emit(ContextRead(len(context.files), context.tokens))
        await sdkimport.ready()  # the SDK's import, if the CLI started it: awaited, so Ctrl-C is not held up
        client = TrackedClient(make_client(), self.ledger, self.transcript, self.redactor, options.max_calls,
                               AdaptiveLimit(options.max_workers), emit=self._emit)
        try:
            rules = PlanRules(allowed=options.allow_paths, max_files=options.max_files,
                              max_file_bytes=options.max_file_bytes, scope=options.scope)
            plan = self._resumed(context.text_paths, rules) if self.resume else await plan_change(
                client, PlanInputs(options.request, options.orchestrator_model, context, self.repo, options.plan_turns,
                                   options.orchestrator_effort, rules, submodules, self._emit))
            self._planned(plan, context.text)
            crew = Crew(client, CrewSetup(self.repo, self.base, self.tree, context.text_paths, options.request,
                                          context.text, options.worker_model, options.repair_rounds,
                                          options.worker_effort, options.max_workers, options.warm_cache,
                                          options.worker_turns, self._emit, self._keep), plan,
                        self.resume.reused if self.resume else None)
            await crew.start()
            synthesis = Synthesis(SynthesisJob(self.repo, self.base, self.run_id, options, self.tree,
                                               context.text_paths, rules, self._emit, self._confirm),
                                  crew, client, outcome)
            tree = await synthesis.run()
            change = git_diff(self.repo, self.base, tree, expected={r.path for r in outcome.results if r.ok})
            outcome.diffstat = change.stat()
            if options.dry_run:
                outcome.diff = change.text
                return
            summary = await write_summary(client, options.synthesizer_model, options.request, outcome.plan or plan,
                                          outcome.diffstat, options.synthesizer_effort)
            await synthesis.commit(tree, summary, self.redactor.redact)
        finally:
            await client.aclose()

    def _emit(self, event: Event) -> None:
        """Every progress event: to the transcript (which keeps the explorations), then the caller."""
        if isinstance(event, Warned):
            self.outcome.warnings.append(event.message)
        self.transcript.record(event)
        self.progress.emit(event)

    def _resumed(self, text_paths: AbstractSet[str], rules: PlanRules) -> Plan:
        """A retry's recorded plan, held to today's plan rules (the config, the files' contents)."""
        assert self.resume is not None
        problems = check_plan(self.resume.plan, self.repo, self.tree, text_paths, rules)
        if problems:
            raise UsageError(f"the plan of run {self.resume.of} cannot be carried out again: {problems[0]}")
        return self.resume.plan

    def _planned(self, plan: Plan, context: str) -> None:
        self.outcome.plan = plan
        self.transcript.append({"kind": "plan", "plan": plan.to_dict()})
        sizes = {path: entry.size for path, entry in self.tree.items()}
        shared = shared_blocks(self.options.request, plan, context)
        reused = self.resume.reused if self.resume else {}  # a retry pays only for the workers that run again
        fresh = Plan(plan.summary, tuple(e for e in plan.edits if e.path not in reused))
        estimate = estimate_worker_cost(fresh, shared, sizes, self.options.worker_model)
        reviewed = self.options.review_rounds > 0
        review = estimate_review_cost(self.options.request, plan, sizes, self.options.orchestrator_model) \
            if reviewed else None
        self._emit(Planned(plan, estimate, reviewed, review))
        dirty = self.repo.worktree_changes(self.base, [e.path for e in plan.edits if e.action != "create"])
        if dirty:
            self._warn("uncommitted changes are not included (workers see the base commit): " + ", ".join(dirty))
        if not self._confirm(plan):
            raise RunFailed("stopped before the workers started: you declined the plan")

    def _warn(self, message: str) -> None:
        self._emit(Warned(message))

    def _keep(self, result: FileResult) -> None:
        """A file's latest result into the transcript, its text as a blob id (what a retry reuses)."""
        blob = self.repo.write_blob(result.new_text.encode("utf-8")) if result.ok and result.new_text is not None \
            else None
        self.transcript.append(file_record(result, blob))

    def _confirm(self, plan: Plan) -> bool:
        """Ask for the go-ahead; the time the user takes to answer is not the run's."""
        asked = time.monotonic()
        try:
            return self.progress.confirm(plan)
        finally:
            self.waited += time.monotonic() - asked


def _report(run: _Run, seconds: float, error: DiffcrewError | None) -> RunReport:
    options, outcome = run.options, run.outcome
    status: Literal["ok", "partial", "failed", "dry-run"]
    if error is not None:
        status, code = "failed", error.exit_code
    elif options.dry_run:
        status, code = "dry-run", ExitCode.OK
    else:
        status, code = ("partial", ExitCode.PARTIAL) if outcome.partial else ("ok", ExitCode.OK)
    # The report is printed (--json), written (--pr-body) and recorded: secrets in the request, a
    # check command, a check's output or an error (a URL with credentials) stay redacted there.
    redact = run.redactor.redact
    return RunReport(
        run_id=run.run_id, status=status, exit_code=code, request=redact(options.request), repo=str(run.repo.root),
        base=run.base, base_ref=options.base, branch=outcome.branch if outcome.commit else None,
        commit=outcome.commit, plan=outcome.plan,
        results=tuple(replace(r, note=redact(r.note)) if r.note else r for r in outcome.results),
        usage_by_role=dict(run.ledger.by_role), cost_usd=run.ledger.cost_usd, duration_s=seconds,
        diffstat=outcome.diffstat, diff=outcome.diff, message=outcome.message, warnings=tuple(outcome.warnings),
        transcript=str(run.transcript.path), errors=(redact(str(error)),) if error is not None else (),
        remote=outcome.remote, checks=tuple(run.redactor.redact_value(c.to_dict()) for c in outcome.checks),
        reviews=tuple(run.redactor.redact_value(r) for r in outcome.reviews))
