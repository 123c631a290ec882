"""`diffcrew apply`: a sloppy unified diff onto the working tree, every file or none.

It needs neither the SDK nor GitPython: both are left unimported.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from diffcrew.agent.cli.group import main
from diffcrew.agent.cli.options import json_option, read_input, repo_option
from diffcrew.tools.errors import DiffcrewError, ExitCode, UsageError

MAX_PATCH_BYTES = 64 * 1024 * 1024  # a patch's input; read no further (/dev/zero, `yes |`)

if TYPE_CHECKING:
    from diffcrew.tools.applyfiles import FileChange


@main.command("apply")
@click.argument("patch", required=False, metavar="[PATCH | -]")
@repo_option("The repository (default: the one holding the current directory).")
@click.option("--check", is_flag=True, help="Only check that the patch applies; write nothing.")
@json_option("Print a machine-readable result on stdout.")
def apply_command(patch: str | None, repo: str, check: bool, as_json: bool) -> None:
    """Apply a sloppy unified diff (say, pasted from a chat) to the working tree: every file or none.

    \b
    Example:
      pbpaste | diffcrew apply --check -
      diffcrew apply fix.patch

    Line numbers, counts, headers and fences may be wrong or missing; each hunk must still match
    exactly one place in its file, or nothing is written. Exit 0 applied, 1 refused, 2 usage error.
    """
    from diffcrew.tools.applyfiles import ApplyRefused, find_root, plan_changes, write_changes

    if patch is None and sys.stdin.isatty():
        raise UsageError("no patch: diffcrew apply FILE (or - to read stdin)")
    if not Path(repo).is_dir():  # not the repository around it: a typo must not patch that
        raise UsageError(f"--repo {repo}: no such directory")
    text = _read_patch(patch)
    root = find_root(Path(repo))
    try:
        changes = plan_changes(root, text)
        if not check:
            write_changes(root, changes)
    except ApplyRefused as exc:
        _refused(exc.reasons, as_json)
    except DiffcrewError as exc:  # a write that failed (everything put back); the boundary prints it
        if as_json:
            click.echo(json.dumps({"status": "failed", "files": [], "errors": [exc.summary]}, indent=2))
        raise
    files = [_apply_report(c) for c in changes]
    if as_json:
        click.echo(json.dumps({"status": "checked" if check else "applied", "files": files, "errors": []}, indent=2))
        sys.exit(ExitCode.OK)
    for item in files:
        click.echo(_apply_line(item, check))


def _refused(reasons: list[str], as_json: bool) -> NoReturn:
    """One line per reason (and the JSON object), then exit 1: a refusal is a result, not an error."""
    if as_json:
        click.echo(json.dumps({"status": "refused", "files": [], "errors": reasons}, indent=2))
    for reason in reasons:
        click.echo(f"diffcrew: refused: {reason}", err=True)
    click.echo("diffcrew: nothing was written", err=True)
    sys.exit(ExitCode.REFUSED)


def _read_patch(patch: str | None) -> str:
    """The patch text from a file, a pipe (`apply <(git diff)`, /dev/stdin, a FIFO) or stdin (`-`).

    Bytes that are not UTF-8 (a Latin-1 file's) pass through unchanged: surrogateescape is reversible.
    At most MAX_PATCH_BYTES are taken: more is refused.
    """
    what = "patch" if patch in (None, "-") else "patch file"
    return read_input(patch or "-", what, MAX_PATCH_BYTES).decode("utf-8", errors="surrogateescape")


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

