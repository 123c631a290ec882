"""The commands on recorded runs: log, show and discard (no model, no key)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from diffcrew.agent.cli.group import main
from diffcrew.agent.cli.options import json_option, repo_option, run_argument
from diffcrew.agent.pricing import money


@main.command("log")
@repo_option()
@click.option("-n", "limit", type=click.IntRange(1), default=20, show_default=True, help="How many runs to list.")
@json_option("Print a JSON list.")
def log_command(repo: str, limit: int, as_json: bool) -> None:
    """List recorded runs, newest first: id, time, status, model calls, cost, branch and request.

    \b
    Example:
      diffcrew log -n 5

    A branch deleted by `diffcrew discard` is marked (discarded); a `diffcrew fix` run shows
    `fix:`, its standing request and what it did (changed, unchanged, failed); a killed run
    shows the calls and cost its transcript holds.
    """
    import time as clock

    from diffcrew.agent.runs import list_runs
    from diffcrew.tools.git import GitRepo

    runs = list_runs(GitRepo(Path(repo)))[:limit]
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False))
        return
    for run in runs:
        when = clock.strftime("%Y-%m-%d %H:%M", clock.localtime(run.started))
        cost = money(run.cost_usd, "?")
        request = " ".join(run.request.split())
        branch = (run.branch or "-") + (" (discarded)" if run.discarded is not None else "")
        label = "" if run.command == "run" else f"{run.command}: "
        click.echo(f"{run.run_id}  {when}  {run.status:<10} {run.calls:>3} calls {cost:>9}  {branch}  "
                   f"{label}{request[:60]}{'…' if len(request) > 60 else ''}")


@main.command("show")
@run_argument
@repo_option()
@json_option("Print the run's report and patches as JSON.")
@click.option("--patch", "only_patch", is_flag=True,
              help="Print only the diff the run applied (its commit, or the files that succeeded), for "
                   "`diffcrew apply -` or `git apply`.")
def show_command(run_id: str, repo: str, as_json: bool, only_patch: bool) -> None:
    """Show a recorded run: its plan and reviews, per-file results and patches, checks, usage and cost.

    \b
    Example:
      diffcrew show 20261122-153000-a1b2c3
      diffcrew show last --patch | diffcrew apply -

    RUN is a run id (or a prefix), the short id in its branch name, its branch, or `last`.
    """
    from diffcrew.agent.runref import find_transcript
    from diffcrew.agent.runs import applied_diff, patches, read_run
    from diffcrew.tools.git import GitRepo

    git_repo = GitRepo(Path(repo))
    path = find_transcript(git_repo, run_id)
    if only_patch:
        click.echo(applied_diff(git_repo, path), nl=False)
        return
    run, diffs = read_run(path), patches(path)
    if as_json:
        click.echo(json.dumps({**run.to_dict(), "reviews": [_review_record(r) for r in run.reviews],
                               "report": run.report, "patches": diffs}, indent=2, ensure_ascii=False))
        return
    click.echo(f"Run {run.run_id}: {run.status}; branch {run.branch or '-'}; transcript {run.path}")
    click.echo(f"Request: {run.request}")
    _show_report(run.report or {}, run.reviews)
    for path_name, diff in diffs.items():
        _show_patch(path_name, diff)


def _show_patch(path: str, diff: str) -> None:
    """A worker's last patch: as a diff when it parses back as a well-formed one for its file; otherwise
    indented, as the model's text (the patch engine accepts sloppy diffs: no headers, bare '@@')."""
    from diffcrew.tools.difftext import parse_back
    from diffcrew.tools.errors import DiffFormatError

    try:
        text = parse_back(diff, expected={path}).text
    except DiffFormatError:
        click.echo(click.style(f"\n# patch for {path}, as the model wrote it (not a well-formed unified diff; "
                               "the patch engine placed it)", bold=True))
        click.echo("\n".join("    " + line for line in diff.rstrip("\n").splitlines()))
        return
    click.echo(click.style(f"\n# patch for {path}", bold=True))
    click.echo(text.rstrip("\n"))


def _review_record(entry: dict[str, Any]) -> dict[str, Any]:
    """A transcript's `review` entry without its time and kind."""
    return {k: v for k, v in entry.items() if k not in ("time", "kind")}


def _show_report(report: dict[str, Any], reviews: tuple[dict[str, Any], ...]) -> None:
    """The plan (as the review amended it), the review rounds, each file's result, the checks and the
    cost of a recorded run."""
    from diffcrew.agent.events import Reviewed
    from diffcrew.agent.types import FileEdit
    from diffcrew.agent.view import review_lines

    plan = report.get("plan") or {}
    added = {path: r.get("round") for r in reviews for path in r.get("added") or ()}
    if plan:
        click.echo(click.style("Plan: ", bold=True) + plan.get("summary", ""))
        for edit in plan.get("edits", []):
            by = f" (added by review {added[edit['path']]})" if edit["path"] in added else ""
            click.echo(f"  {edit['action']:<6} {edit['path']}{by}: {' '.join(edit['instructions'].split())}")
    for entry in reviews:
        edits = tuple(FileEdit(e["path"], e["action"], e["instructions"]) for e in entry.get("edits") or ())
        verdict = Reviewed(entry["round"], entry.get("note", ""), edits, tuple(entry.get("added") or ()))
        for line in review_lines(verdict):
            click.echo(line)
    if report.get("files"):
        click.echo(click.style("Files:", bold=True))
    for item in report.get("files", []):
        error = f": {item['error']}" if item.get("error") else ""
        click.echo(f"  {item['action']:<6} {item['path']}: {item['status']} after {item['attempts']} "
                   f"attempt(s){error}")
        if item.get("note"):  # the worker's word on what else the change needs
            click.echo(f"         note: {item['note']}")
    for check in report.get("checks", []):
        click.echo(f"  check  {check['name']}: {check['status']}")
    if report:
        cost = report.get("cost_usd")
        click.echo(f"Cost: {money(cost)}; {report.get('duration_s', 0):.1f} s")


@main.command("discard")
@run_argument
@repo_option()
@click.option("--remote/--keep-remote", "remote", default=None,
              help="Where the branch was also pushed, delete it there too (--remote) or leave it (--keep-remote); "
                   "without either, diffcrew asks at a terminal and otherwise leaves it.")
def discard_command(run_id: str, repo: str, remote: bool | None) -> None:
    """Delete the branch a run made (only if it still holds that run's commit).

    \b
    Example:
      diffcrew discard 20261122-153000-a1b2c3
      diffcrew discard last --remote

    RUN is a run id (or a prefix), the short id in its branch name, its branch, or `last`.
    A branch that was also pushed is deleted on the remote only with your consent, and only if
    it still holds the run's commit there. Exit 2 when the branch is already gone, has moved or
    is checked out.
    """
    from diffcrew.agent.runs import discard
    from diffcrew.tools.git import GitRepo

    def consent(remotes: tuple[str, ...], branch: str) -> bool:
        if remote is not None:
            return remote
        return can_ask() and click.confirm(f"branch {branch} was also pushed to {', '.join(remotes)}; "
                                           "delete it there too?", default=False, err=True)

    done = discard(GitRepo(Path(repo)), run_id, consent)
    if done.local:
        click.echo(f"deleted branch {done.branch}")
    for name in done.deleted:
        click.echo(f"deleted branch {done.branch} on {name}")
    for name in done.left:
        click.echo(f"branch {done.branch} was also pushed to {name} and is still there: "
                   f"`diffcrew discard {done.run_id} --remote` deletes it there")


def can_ask() -> bool:
    """Whether a person is at a terminal to answer a question."""
    return sys.stdin.isatty() and sys.stderr.isatty()
