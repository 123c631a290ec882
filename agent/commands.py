"""The commands that call no model: apply, context, config, log, show and discard.

They are registered on the `diffcrew` group in agent/cli.py. Like the rest of the CLI they
print and exit; heavy modules are imported inside each command, so none of them pays for the
SDK, and `apply` not even for GitPython.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from diffcrew.agent import config as cfg
from diffcrew.agent.pricing import UNPRICED, money

if TYPE_CHECKING:
    from diffcrew.tools.applyfiles import FileChange


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then the documented exit code."""
    click.echo(f"diffcrew: error: {message}", err=True)
    sys.exit(code)


@click.command("apply")
@click.argument("patch", required=False, metavar="[PATCH | -]")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the one holding the current directory).")
@click.option("--check", is_flag=True, help="Only check that the patch applies; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable result on stdout.")
def apply_command(patch: str | None, repo: str, check: bool, as_json: bool) -> None:
    """Apply a sloppy unified diff (say, pasted from a chat) to the working tree: every file or none.

    Line numbers, counts, headers and fences may be wrong or missing; each hunk must still match
    exactly one place in its file, or nothing is written. Exit 0 applied, 1 refused, 2 usage error.

    \b
    Example:
      pbpaste | diffcrew apply --check -
      diffcrew apply fix.patch
    """
    from diffcrew.tools.applyfiles import ApplyRefused, find_root, plan_changes, write_changes
    from diffcrew.tools.errors import DiffcrewError

    if patch is None and sys.stdin.isatty():
        fail("no patch: diffcrew apply FILE (or - to read stdin)", 2)
    if not Path(repo).is_dir():
        fail(f"--repo {repo}: no such directory", 2)  # not the repository around it: a typo must not patch that
    text = _read_patch(patch)
    root = find_root(Path(repo))
    try:
        changes = plan_changes(root, text)
        if not check:
            write_changes(root, changes)
    except ApplyRefused as exc:
        if as_json:
            click.echo(json.dumps({"status": "refused", "files": [], "errors": exc.reasons}, indent=2))
        for reason in exc.reasons:
            click.echo(f"diffcrew: refused: {reason}", err=True)
        click.echo("diffcrew: nothing was written", err=True)
        sys.exit(1)
    except DiffcrewError as exc:  # a write that failed (everything put back)
        if as_json:
            click.echo(json.dumps({"status": "failed", "files": [], "errors": [exc.summary]}, indent=2))
        fail(exc.summary, exc.exit_code)
    files = [_apply_report(c) for c in changes]
    if as_json:
        click.echo(json.dumps({"status": "checked" if check else "applied", "files": files, "errors": []}, indent=2))
        sys.exit(0)
    for item in files:
        click.echo(_apply_line(item, check))


def _read_patch(patch: str | None) -> str:
    """The patch text from a file, a pipe (`apply <(git diff)`, /dev/stdin) or stdin (`-`).

    Bytes that are not UTF-8 (a Latin-1 file's) pass through unchanged: surrogateescape is reversible.
    """
    source = Path(patch) if patch not in (None, "-") else None
    if source is not None and (not source.exists() or source.is_dir()):
        fail(f"patch file not found: {patch}" if not source.exists() else f"patch is a directory: {patch}", 2)
    try:
        raw = source.read_bytes() if source else sys.stdin.buffer.read()
    except OSError as exc:
        fail(f"cannot read the patch {patch}: {exc.strerror or exc}", 2)
    return raw.decode("utf-8", errors="surrogateescape")


def _apply_report(change: FileChange) -> dict[str, Any]:
    """One file of `apply --json`: what happened to it, from where, with which mode, and how each hunk was placed."""
    mode = change.mode if change.mode not in (None, change.old_mode or 0o100644) else None
    return {"path": change.path, "action": change.action, "changed": change.changed, "from": change.source,
            "mode": None if mode is None else f"{mode:o}",
            "old_mode": None if mode is None or change.old_mode is None else f"{change.old_mode:o}",
            "resolved": change.resolved,
            "hunks": [{"index": h.index, "tier": h.tier, "line": h.line} for h in change.hunks]}


def _apply_line(item: dict[str, Any], check: bool) -> str:
    """'applied: util.py (rename from old.py; mode 100755; exact at line 3; resolved ...)'."""
    verb = ("would apply" if check else "applied") if item["changed"] else "already applied"
    what = [item["action"] + (f" from {item['from']}" if item["from"] else "")]
    if item["mode"]:
        what.append(f"mode {item['old_mode'] or 'new'} -> {item['mode']}")
    what.append(", ".join(f"{h['tier']} at line {h['line']}" for h in item["hunks"]) or "whole file")
    if item["resolved"]:
        what.append(item["resolved"])
    return f"{verb}: {item['path']} ({'; '.join(what)})"


@click.command("context")
@click.argument("request", required=False, default="")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--base", default="HEAD", show_default=True, help="The commit to read.")
@click.option("--model", default=cfg.DEFAULT_MODEL, show_default=True, help="Model whose price is used for the estimate.")
@click.option("--budget", type=click.IntRange(1_000), default=cfg.DEFAULT_CONTEXT_TOKENS, show_default=True,
              help="Token budget of the context.")
@click.option("--show", is_flag=True, help="Also print the context text exactly as the orchestrator gets it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: ranked files, tokens, estimated cost.")
def context_command(request: str, repo: str, base: str, model: str, budget: int, show: bool, as_json: bool) -> None:
    """Show what the orchestrator would see for REQUEST, without calling any model.

    Ranked files with their scores and why, the token count and the estimated cost of the
    planning call. Secrets, binaries and generated files are left out, as in a run.

    \b
    Example:
      diffcrew context "rename Config.load to Config.from_file" --json
    """
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.orchestrator import planning_tokens
    from diffcrew.agent.pricing import PLAN_OUTPUT_ESTIMATE, estimate_cost
    from diffcrew.tools.context import build_context, context_report
    from diffcrew.tools.git import GitRepo
    from diffcrew.tools.statedir import writable_state

    try:
        git_repo = GitRepo(Path(repo))
        writable_state(git_repo.common_dir)  # the context cache lives there
        ctx = build_context(git_repo, git_repo.resolve(base), request, budget)
    except DiffcrewError as exc:
        fail(exc.summary, exc.exit_code)
    tokens = planning_tokens(request, ctx)
    cost = estimate_cost(model, tokens, PLAN_OUTPUT_ESTIMATE)
    report = {**context_report(ctx), "planning_input_tokens": tokens, "model": model,
              "estimated_cost": None if cost is None else round(cost, 6)}
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    price = money(cost, UNPRICED, estimate=True)
    click.echo(f"{report['tracked_files']} tracked files at {ctx.base[:12]}; context {ctx.tokens:,} tokens "
               f"(budget {budget:,}); planning call ~{tokens:,} input tokens, {price} with {model}")
    for rank, item in enumerate(report["files"][:30], 1):
        click.echo(f"{rank:3}. {item['score']:8.2f}  {item['path']}  ({'; '.join(item['reasons'])})")
    if show:
        click.echo("\n" + ctx.text)


@click.command("log")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("-n", "limit", type=click.IntRange(1), default=20, show_default=True, help="How many runs to list.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def log_command(repo: str, limit: int, as_json: bool) -> None:
    """List recorded runs, newest first: id, time, status, cost, branch and request.

    \b
    Example:
      diffcrew log -n 5
    """
    import time as clock

    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.runs import list_runs
    from diffcrew.tools.git import GitRepo

    try:
        runs = list_runs(GitRepo(Path(repo)))[:limit]
    except DiffcrewError as exc:
        fail(exc.summary, exc.exit_code)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in runs], indent=2, ensure_ascii=False))
        return
    for run in runs:
        when = clock.strftime("%Y-%m-%d %H:%M", clock.localtime(run.started))
        cost = money(run.cost_usd, "?")
        request = " ".join(run.request.split())
        click.echo(f"{run.run_id}  {when}  {run.status:<10} {cost:>9}  {run.branch or '-'}  "
                   f"{request[:60]}{'…' if len(request) > 60 else ''}")


@click.command("show")
@click.argument("run_id", metavar="RUN")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the run's report and patches as JSON.")
def show_command(run_id: str, repo: str, as_json: bool) -> None:
    """Show a recorded run: its plan, per-file results and patches, checks, usage and cost.

    \b
    Example:
      diffcrew show 20261122-153000-a1b2c3
    """
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.replay import find_transcript
    from diffcrew.agent.runs import patches, read_run
    from diffcrew.tools.git import GitRepo

    try:
        path = find_transcript(GitRepo(Path(repo)), run_id)
    except DiffcrewError as exc:
        fail(exc.summary, exc.exit_code)
    run, diffs = read_run(path), patches(path)
    if as_json:
        click.echo(json.dumps({**run.to_dict(), "report": run.report, "patches": diffs}, indent=2,
                              ensure_ascii=False))
        return
    report = run.report or {}
    click.echo(f"Run {run.run_id}: {run.status}; branch {run.branch or '-'}; transcript {run.path}")
    click.echo(f"Request: {run.request}")
    plan = report.get("plan") or {}
    if plan:
        click.echo(click.style("Plan: ", bold=True) + plan.get("summary", ""))
    for item in report.get("files", []):
        error = f": {item['error']}" if item.get("error") else ""
        click.echo(f"  {item['action']:<6} {item['path']}: {item['status']} after {item['attempts']} "
                   f"attempt(s){error}")
    for check in report.get("checks", []):
        click.echo(f"  check  {check['name']}: {check['status']}")
    if report:
        cost = report.get("cost_usd")
        click.echo(f"Cost: {money(cost)}; {report.get('duration_s', 0):.1f} s")
    for path_name, diff in diffs.items():
        click.echo(click.style(f"\n# patch for {path_name}", bold=True))
        click.echo(diff.rstrip("\n"))


@click.command("discard")
@click.argument("run_id", metavar="RUN")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
def discard_command(run_id: str, repo: str) -> None:
    """Delete the branch a run made (only if it still holds that run's commit).

    \b
    Example:
      diffcrew discard 20261122-153000-a1b2c3
    """
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.agent.runs import discard
    from diffcrew.tools.git import GitRepo

    try:
        branch = discard(GitRepo(Path(repo)), run_id)
    except DiffcrewError as exc:
        fail(exc.summary, exc.exit_code)
    click.echo(f"deleted branch {branch}")


@click.command("config")
@click.option("--repo", default=".", metavar="DIR", help="The repository (default: the current directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
def config_command(repo: str, as_json: bool) -> None:
    """Print the effective settings of `diffcrew run` here, and where each one came from.

    Precedence: the command line, then DIFFCREW_<NAME> variables, then .diffcrew.toml (or
    [tool.diffcrew] in pyproject.toml), then the defaults.

    \b
    Example:
      DIFFCREW_MAX_WORKERS=4 diffcrew config
    """
    from diffcrew.agent.errors import DiffcrewError
    from diffcrew.sandbox.settings import load_checks
    from diffcrew.tools.git import GitRepo

    try:
        root = GitRepo(Path(repo)).root
        values, sources = cfg.layered(root, {})
        checks = [c.command for c in load_checks(root) if c.command]
    except DiffcrewError as exc:
        fail(exc.summary, exc.exit_code)
    if as_json:
        settings = {name: {"value": list(v) if isinstance(v, tuple) else v, "source": sources[name]}
                    for name, v in values.items()}
        click.echo(json.dumps({"settings": settings, "checks": checks}, indent=2))
        return
    for name, value in values.items():
        shown = ", ".join(value) if isinstance(value, tuple) else value
        click.echo(f"{name:<16} {shown if shown not in (None, '') else '-'}  ({sources[name]})")
    click.echo(f"{'checks':<16} {'; '.join(checks) or '-'}  (built-in syntax check, then these)")
