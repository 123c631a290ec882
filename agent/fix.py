"""`diffcrew fix FILES...`: a standing request applied to staged files, in place (the pre-commit hook).

The request comes from `fix_request` in the repository's config (`.diffcrew.toml`, or
`[tool.diffcrew]` in pyproject.toml), `DIFFCREW_FIX_REQUEST`, or `--request`. The files are
read as staged: the index becomes a commit on no branch (built in a copy of the index), the
normal pipeline runs on it as a dry run with the plan confined to exactly these files, and the
new contents are written over the working-tree files, every file or none. The index, HEAD and
branches are never touched, nor any file that was not passed; nothing ever asks a question.

Exit codes follow pre-commit's convention: 0 nothing to change; 1 files were changed (review
them, then `git add` them); 2 usage or input error (no request, a file that is not staged, a
file with unstaged changes); 3 when a budget (`max_cost`, `max_calls`, `timeout`) was reached;
5 when the run failed (an error line; nothing written), kept apart from 1 so that scripts can
tell "review these changes" from "the fix did not happen"; 130 when interrupted.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from diffcrew.agent import colour, config as cfg
from diffcrew.agent.events import Event, Planned, Reviewed, Warned, WorkerFinished, WorkerRepairing
from diffcrew.agent.pricing import UNPRICED, money
from diffcrew.tools.errors import DiffcrewError, ExitCode, RunFailed, UsageError
from diffcrew.tools.gitconst import REGULAR_MODES
from diffcrew.tools.paths import path_problem

RUN_FAILED = ExitCode.FIX_FAILED  # the exit code of a failed run (1 is taken: files were changed)

if TYPE_CHECKING:  # heavy modules (GitPython, the SDK) are imported when the command runs
    from diffcrew.agent.events import Progress
    from diffcrew.agent.types import Plan, RunReport
    from diffcrew.tools.git import GitRepo

IN_PRE_COMMIT = "PRE_COMMIT"  # pre-commit sets PRE_COMMIT=1 in the environment of its hooks
LISTED_PATHS = 100  # paths named in the request; the plan rules hold for all of them either way
NO_REQUEST = ("no standing request: set fix_request in .diffcrew.toml or [tool.diffcrew] of pyproject.toml "
              "(or DIFFCREW_FIX_REQUEST, or pass --request TEXT)")


@dataclass(frozen=True)
class Staged:
    """The files to fix: root-relative paths, and the blob each one's working-tree content has."""

    root: Path
    paths: tuple[str, ...]
    blobs: dict[str, str]
    refresh: tuple[str, ...]  # working tree differs from the index (allowed inside pre-commit only)


@dataclass(frozen=True)
class FixOutcome:
    """What `diffcrew fix` did: the pipeline's report and the files it wrote."""

    report: "RunReport"
    written: tuple[str, ...]


def repo_paths(root: Path, files: tuple[str, ...], cwd: Path) -> tuple[str, ...]:
    """The given files (relative to `cwd`) as `/`-separated paths relative to the repository root."""
    real_root, paths = Path(os.path.realpath(root)), []
    for name in files:
        given = Path(cwd, name)
        folder = Path(os.path.realpath(given.parent))  # the file itself may be a link: not resolved
        try:
            path = (folder / given.name).relative_to(real_root).as_posix()
        except ValueError:
            raise UsageError(f"{name}: not inside the repository {root}") from None
        if path_problem(path):  # "." (the root itself) is refused by the rule too
            raise UsageError(f"{name}: not a file diffcrew fix may change")
        if path not in paths:
            paths.append(path)
    return tuple(paths)


def staged_files(repo: "GitRepo", paths: tuple[str, ...], inside_pre_commit: bool) -> Staged:
    """Check that every path is staged as a regular file, and compare it with the working tree.

    Outside pre-commit a file whose working-tree content differs from its staged content is
    refused: writing over it would lose the unstaged work. Inside pre-commit, unstaged work is
    already stashed, so a difference comes from an earlier hook, and that content is used.
    """
    entries = {e.path: e for e in repo.index_entries(list(paths))}
    for path in paths:
        entry = entries.get(path)
        if entry is None:
            raise UsageError(f"{path}: not staged; diffcrew fix changes only files in the index (git add it first)")
        if entry.stage != 0:
            raise UsageError(f"{path}: has an unresolved merge conflict; resolve it first")
        if entry.mode not in REGULAR_MODES:
            raise UsageError(f"{path}: not a regular file (a symbolic link or a submodule); it cannot be fixed")
        if not (repo.root / path).is_file() or (repo.root / path).is_symlink():
            raise UsageError(f"{path}: staged, but missing from the working tree; restore it or unstage it")
    blobs = repo.worktree_blobs(list(paths))
    differs = tuple(p for p in paths if blobs[p] != entries[p].blob)
    if differs and not inside_pre_commit:
        raise UsageError(f"{differs[0]}: has unstaged changes; stage them (git add) or stash them first, "
                         "so that none of your work is overwritten")
    return Staged(repo.root, paths, blobs, differs)


def scoped_request(request: str, paths: tuple[str, ...]) -> str:
    """The standing request, confined to the files being committed, for the orchestrator and workers."""
    listed = "\n".join(f"- {p}" for p in paths[:LISTED_PATHS])
    more = f"\n- ... and {len(paths) - LISTED_PATHS} more" if len(paths) > LISTED_PATHS else ""
    return (f"{request}\n\nApply this request only to these files, which are staged for commit:\n{listed}{more}\n"
            "Change no other file, and create or delete none. If none of these files needs a change, "
            "plan no edits (an empty list of edits).")


def fix_settings(root: Path, request: str | None) -> dict[str, Any]:
    """The layered settings (`--request` over the environment over the config); one must give a request."""
    if request is not None and not request.strip():
        raise UsageError("--request is empty: say what to change")
    given = {} if request is None else {"fix_request": request.strip()}
    values, _ = cfg.layered(root, given)
    if not values.get("fix_request"):
        raise UsageError(NO_REQUEST)
    return values


def fix_options(staged: Staged, base: str, settings: dict[str, Any]) -> cfg.RunOptions:
    """The run's options: the settings, a dry run on the staged commit, the plan confined to the files."""
    request = scoped_request(settings["fix_request"], staged.paths)
    return cfg.RunOptions(**{**settings, "request": request, "repo": staged.root, "base": base, "dry_run": True,
                             "scope": staged.paths, "run_checks": False})


def nothing_to_change(report: "RunReport") -> bool:
    """A run that ended only because no file would change: every planned file got a result."""
    if report.status != "failed" or report.exit_code != ExitCode.FAILED or report.plan is None:
        return False
    planned = {e.path for e in report.plan.edits}
    return len(report.results) == len(planned) and {r.path for r in report.results if r.ok} == planned


def write_results(repo: "GitRepo", staged: Staged, report: "RunReport") -> tuple[str, ...]:
    """Write the run's new file contents over the working-tree files: every file or none.

    Refused, with nothing written, when a result names a file that was not passed or when a
    file changed in the working tree while the run was under way.
    """
    from diffcrew.agent.signals import deferred
    from diffcrew.tools.applyfiles import FileChange, WriteFailed, confined, write_changes

    changes = []
    for result in report.results:
        if result.path not in staged.paths:
            raise RunFailed(f"the change touches {result.path}, which was not passed; nothing was written")
        if result.action != "modify":
            raise RunFailed(f"the plan would {result.action} {result.path}; diffcrew fix only modifies files, "
                            "so nothing was written")
        target = confined(staged.root, result.path)
        old = target.read_bytes() if target.is_file() else None
        new = (result.new_text or "").encode("utf-8")
        if new != old:
            changes.append(FileChange(result.path, result.action, old, new, ()))
    now = repo.worktree_blobs([c.path for c in changes])
    moved = [c.path for c in changes if now[c.path] != staged.blobs[c.path]]
    if moved:
        raise RunFailed(f"{moved[0]} changed in the working tree while diffcrew was running; nothing was written")
    with deferred() as interrupts:  # every file or none: Ctrl-C waits for the last write
        try:
            write_changes(staged.root, changes)
        except WriteFailed as exc:  # write_changes has put back the files it had written
            raise RunFailed(f"could not write {exc.summary.split(': could not be written')[0]}: "
                            f"{_reason(exc)}; nothing was written") from None
    if interrupts:
        click.echo("diffcrew fix: interrupted while writing; the writes were finished first", err=True)
    return tuple(c.path for c in changes)


def run_fix(files: tuple[str, ...], request: str | None, progress: "Progress", cwd: Path) -> FixOutcome:
    """The whole command short of printing: check the input, run the pipeline, write the result."""
    from diffcrew.agent.llm.anthropic_client import AnthropicClient, require_api_key
    from diffcrew.agent.run import run_change
    from diffcrew.tools.git import GitRepo

    if not files:
        raise UsageError("no files: diffcrew fix FILE... (pre-commit passes the staged files)")
    repo = GitRepo(cwd, hint="run diffcrew fix inside one: it works on the current directory's repository")
    staged = staged_files(repo, repo_paths(repo.root, files, cwd), os.environ.get(IN_PRE_COMMIT) == "1")
    settings = fix_settings(staged.root, request)  # checked before the key, and before git writes anything
    require_api_key()
    base = repo.index_commit(list(staged.refresh), "diffcrew fix: the files as staged (on no branch)")
    options = fix_options(staged, base, settings)
    report = run_change(options, progress, lambda: AnthropicClient(timeout=options.request_timeout))
    if report.exit_code != ExitCode.OK:
        return _recorded(FixOutcome(report, ()))
    try:
        written = write_results(repo, staged, report)
    except RunFailed:
        _recorded(FixOutcome(report, ()), "failed")
        raise
    return _recorded(FixOutcome(report, written))


def _recorded(outcome: FixOutcome, status: str | None = None) -> FixOutcome:
    """Append what the fix did to its run's transcript (a `fix` entry), which holds the pipeline's dry
    run only: `changed` (files written), `unchanged`, or `failed` (nothing written), for `diffcrew log`."""
    from diffcrew.agent.transcript import Transcript

    report = outcome.report
    if status is None:
        unchanged = report.exit_code == ExitCode.OK or nothing_to_change(report)
        status = "changed" if outcome.written else "unchanged" if unchanged else "failed"
    if report.transcript:
        record = Transcript(Path(report.transcript))
        record.append({"kind": "fix", "status": status, "written": list(outcome.written)})
        record.close()
    return outcome


@dataclass(frozen=True)
class FixProgress:
    """Progress on stderr, line by line: warnings always, the plan and troubles unless quiet; never
    a question (a hook has no one to answer it)."""

    quiet: bool

    def emit(self, event: Event) -> None:
        match event:
            case Warned(message=message):
                colour.echo(click.style("warning: ", fg="yellow") + message, err=True)
            case _ if self.quiet:
                pass
            case Planned(plan=plan) if plan.edits:
                click.echo(f"diffcrew fix: {plan.summary}", err=True)
            case WorkerRepairing(path=path, problem=problem):
                click.echo(f"  {path}: repairing ({problem})", err=True)
            case WorkerFinished(ok=False, path=path, error=error):
                click.echo(f"  {path}: failed ({error or ''})", err=True)
            case Reviewed(note=note) if not event.approved:
                click.echo(f"  review: asked for more ({note})", err=True)
            case _:
                pass

    def confirm(self, plan: "Plan") -> bool:
        return True


def _cost(report: "RunReport") -> str:
    calls = sum(u.calls for u in report.usage_by_role.values())
    return f"{calls} model call(s), cost {money(report.cost_usd, UNPRICED)}"


def _finish(outcome: FixOutcome, quiet: bool) -> NoReturn:
    report = outcome.report
    if outcome.written:
        click.echo(f"diffcrew fix: changed {len(outcome.written)} file(s) in place; review them, then git add "
                   f"them: {', '.join(outcome.written)}", err=True)
        if not quiet:
            click.echo(report.diffstat.rstrip("\n"), err=True)
        click.echo(f"diffcrew fix: {_cost(report)}", err=True)
        sys.exit(ExitCode.CHANGED)
    if report.exit_code == ExitCode.OK or nothing_to_change(report):
        click.echo(f"diffcrew fix: nothing to change ({_cost(report)})", err=True)
        sys.exit(ExitCode.OK)
    message = report.errors[0].splitlines()[0] if report.errors else report.status
    raise RunFailed(f"{message}; nothing was written ({_cost(report)})", exit_code=_failure_code(report.exit_code))


def _failure_code(code: int) -> int:
    """A run's failure (1 for `run`) exits RUN_FAILED here: 1 means files were changed."""
    return RUN_FAILED if code == ExitCode.FAILED else code


@click.command("fix")
@click.argument("files", nargs=-1, metavar="FILES...")
@click.option("--request", "request", metavar="TEXT",
              help="The request to apply (default: fix_request from the config or DIFFCREW_FIX_REQUEST).")
@click.option("--quiet", "-q", is_flag=True, help="Print only the result.")
def fix_command(files: tuple[str, ...], request: str | None, quiet: bool) -> None:
    """Apply the standing request to staged FILES, in place (the `diffcrew-fix` pre-commit hook).

    \b
    Example:
      git add src/app.py && diffcrew fix --request "add type hints to new functions" src/app.py

    The files are read as staged; the plan may change only them; the result is written over
    them in the working tree, every file or none. The index, HEAD and branches are never
    touched. Exit 0 nothing to change, 1 files changed (review, then git add them), 2 usage
    error (no request, a file not staged, a file with unstaged changes), 3 budget reached,
    5 the run failed (nothing written).
    """
    try:  # the `diffcrew` group prints the error (and Ctrl-C: "interrupted; nothing was written")
        outcome = run_fix(files, request, FixProgress(quiet), Path.cwd())
    except DiffcrewError as exc:
        raise DiffcrewError(exc.summary, exit_code=_failure_code(exc.exit_code)) from exc
    _finish(outcome, quiet)


def _reason(exc: BaseException) -> str:
    """Why a write failed, from the OSError behind WriteFailed."""
    cause = exc.__cause__
    return str(getattr(cause, "strerror", None) or cause or exc)
