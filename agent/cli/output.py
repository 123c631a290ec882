"""What the pipeline commands print once a run has ended: the plain result, or the JSON report."""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from diffcrew.agent.cli.group import error_line
from diffcrew.agent.pricing import UNPRICED, money
from diffcrew.tools.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from diffcrew.agent.types import RunReport

STDOUT = "-"  # `--pr-body -`: the pull-request description goes to stdout


def usage_line(report: RunReport) -> str:
    """'N model call(s), I input / O output tokens, cost $C'."""
    total_in = sum(u.input_tokens + u.cache_read_tokens + u.cache_write_tokens for u in report.usage_by_role.values())
    total_out = sum(u.output_tokens for u in report.usage_by_role.values())
    calls = sum(u.calls for u in report.usage_by_role.values())
    cost = money(report.cost_usd, UNPRICED)
    return f"{calls} model call(s), {total_in:,} input / {total_out:,} output tokens, cost {cost}"


def review_command(report: RunReport) -> str:
    """The command that shows the branch's change, as it works from the current directory."""
    change = f"diff {report.base[:12]}...{report.branch}"
    try:
        Path.cwd().resolve().relative_to(Path(report.repo).resolve())
    except (OSError, ValueError):  # run with --repo elsewhere: name the repository
        return f"git -C {shlex.quote(report.repo)} {change}"
    return f"git {change}"


def print_report(report: RunReport, *, review: bool = True, err: bool = False) -> None:
    """The dry run's diff, the failure's two lines, or the new branch and how to review it (on
    stderr with `err`, when stdout carries the pull-request body). A failure after the branch was
    made (the push, the PR body) prints the branch as a success does, then the error."""
    from diffcrew.agent.view import colour_diffstat

    if report.status == "dry-run":
        click.echo(report.diff, nl=False)
        click.echo(f"diffcrew: dry run, no branch made. {usage_line(report)}", err=True)
        return
    if not report.branch:
        click.echo(error_line(report.errors[0] if report.errors else report.status), err=True)
        click.echo(f"diffcrew: nothing was changed in your repository. Transcript: {report.transcript}", err=True)
        if report.status == "failed" and report.plan is not None:  # a plan was made: retry can start from it
            from diffcrew.agent.runref import short_id

            click.echo(f"diffcrew: `diffcrew retry {short_id(report.run_id)}` runs it again from its plan, reusing "
                       "the files that finished at no cost", err=True)
        return
    short = report.base[:12]
    click.echo(click.style(f"Branch {report.branch}", fg="green", bold=True) + f" (commit {(report.commit or '')[:12]},"
               f" on base {short})", err=err)
    click.echo(colour_diffstat(report.diffstat), err=err)
    if review:
        click.echo(f"Review:     {review_command(report)}", err=err)
    click.echo(f"Usage:      {usage_line(report)}", err=err)
    click.echo(f"Transcript: {report.transcript}", err=err)
    if report.remote:
        click.echo(f"Pushed:     {report.branch} to {report.remote}", err=err)
    if report.exit_code == ExitCode.PARTIAL:
        left = ", ".join(r.path for r in report.results if not r.ok)
        click.echo(click.style(f"warning: --allow-partial left out: {left}", fg="yellow"), err=True)
    if report.status == "failed":
        click.echo(error_line(report.errors[0] if report.errors else report.status), err=True)
        click.echo(f"diffcrew: the branch {report.branch} exists; only the step named above failed "
                   f"(exit {report.exit_code})", err=True)


def finish(report: RunReport, as_json: bool, stream_json: bool = False, *, err: bool = False) -> NoReturn:
    """Print the report (JSON, the last line of --stream-json, or plain; plain on stderr with `err`) and exit
    with the run's code."""
    if as_json or stream_json:
        click.echo(json.dumps(report.to_dict(), indent=2 if as_json else None, ensure_ascii=False))
    else:
        print_report(report, err=err)
    sys.exit(report.exit_code)


def check_output_file(name: str, flag: str) -> None:
    """Refuse an output file that cannot be written before the run is paid for (`-`: stdout)."""
    if name == STDOUT:
        return
    path = Path(name)
    if path.is_dir():
        raise UsageError(f"{flag} {name}: is a directory; give a file name")
    folder = path.parent
    if not folder.is_dir():
        raise UsageError(f"{flag} {name}: the directory {folder} does not exist; create it or give another path")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{flag} {name}: you may not write there; give another path")


def check_not_the_repositorys(name: str, flag: str, repo_dir: str | Path) -> None:
    """Refuse an output file that would overwrite what is the repository's own: a tracked file (with
    the user's uncommitted edits), anything in its git directory or a `.git` entry, or the work tree
    itself. `name` is taken as it will be written: relative to the current directory, symlinks followed.
    An untracked, ignored or outside file may be overwritten, as `curl -o` would."""
    from diffcrew.tools.git import GitRepo

    if name == STDOUT:
        return
    repo = GitRepo(repo_dir)
    target = Path(name).resolve()
    root = repo.root.resolve()
    git_dirs = {Path(repo.repo.git_dir).resolve(), repo.common_dir.resolve()}
    if any(target == d or target.is_relative_to(d) for d in git_dirs) or (
            target.is_relative_to(root) and ".git" in target.relative_to(root).parts):
        raise UsageError(f"{flag} {name}: that is inside the repository's git directory, which diffcrew never "
                         "writes; give a path outside it")
    if target == root:
        raise UsageError(f"{flag} {name}: that is the repository's work tree; give a file name")
    if target.is_relative_to(root):
        relative = target.relative_to(root).as_posix()
        tracked = repo.git.execute(["git", "ls-files", "-z", "--", f":(literal){relative}"]).split("\0")
        if relative in tracked:
            raise UsageError(f"{flag} {name}: that file is tracked in the repository, and writing it would "
                             "overwrite your file; give a path that git does not track (e.g. outside the repository)")


def check_pr_body(target: str | None, machine: bool, dry_run: bool = False) -> None:
    """Refuse a --pr-body that cannot be written, or `-` when stdout carries something else
    (`machine`: the JSON report of --json or --stream-json), before the run is paid for."""
    if target == STDOUT and (machine or dry_run):
        taken = "the dry run's diff" if dry_run else "the JSON report"
        raise UsageError(f"--pr-body - writes to stdout, which carries {taken}; give --pr-body a file name")
    if target is not None:
        check_output_file(target, "--pr-body")


def with_pr_body(report: RunReport, target: str | None) -> RunReport:
    """The report once its pull-request description is written to `target` (a file, or `-`: stdout).

    Only a run that made a branch, or a dry run, has one. A write that fails all the same (a full
    disk) fails the run: exit 6 naming the branch when one was made, else 1.
    """
    from diffcrew.agent.prbody import render_pr_body

    if target is None or not (report.commit or report.status == "dry-run"):
        return report
    body = render_pr_body(report.to_dict())
    if target == STDOUT:
        click.echo(body, nl=False)
        return report
    try:
        Path(target).write_text(body, encoding="utf-8")
    except OSError as exc:
        made = f"the branch {report.branch} was made, but " if report.branch else ""
        error = f"{made}the pull-request body could not be written to {target}: {exc.strerror or exc}"
        code = ExitCode.BRANCH_MADE if report.branch else ExitCode.FAILED
        return replace(report, status="failed", exit_code=code, errors=(error, *report.errors))
    return report
