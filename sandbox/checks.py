"""Checks on the synthesized result, judged against the base: only new failures count.

`run_checks` takes the workspace (already holding base + changes, see Workspace.write) and runs:
- the built-in syntax check on every changed file (sandbox.syntax); a file that fails is a new
  failure unless its base version failed too (a new file has no base version: it must parse);
- every command check, through the shell in the workspace (sandbox.process: no stdin, a scrubbed
  environment, the whole process group killed at the timeout). `{files}` expands to the changed
  files that exist, shell-quoted, `./`-prefixed when they could be read as an option; with none,
  the check passes without running.

The differential verdict (rule in sandbox.verdict): a command that fails after the change is run
on the base too, in a second, pristine worktree, and its result is cached under
<git-common-dir>/diffcrew/cache/checks/ keyed by base commit + expanded command, so the base runs
once per base commit. A command that passes after the change needs no base run (base_status None).
A time-out on the base is not cached: it says more about the machine than about the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import time
import weakref
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

from diffcrew.sandbox.nodelinks import link_packages
from diffcrew.sandbox.process import Outcome, run_command, scrubbed_env
from diffcrew.sandbox.pyimports import python_path
from diffcrew.sandbox.syntax import parse_problems
from diffcrew.sandbox.verdict import STOPPED_NOTE, files_named, is_new_failure, new_lines, stopped_early, trim
from diffcrew.sandbox.workspace import Workspace
from diffcrew.tools.configfile import DEFAULT_CHECK_TIMEOUT
from diffcrew.tools.git import GitRepo
from diffcrew.tools.statedir import cache_dir

__all__ = ["Check", "CheckResult", "run_checks", "scrubbed_env"]
CACHE_VERSION = 2  # 2: checks import the workspace, not the checkout (pyimports, nodelinks)
FILES = "{files}"
# Each workspace's PYTHONPATH (sandbox.pyimports), asked once per workspace when its Node packages are linked.
_python_paths: "weakref.WeakKeyDictionary[Workspace, str | None]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Check:
    """A check to run: the built-in syntax check (command None) or a shell command."""

    name: str
    command: str | None
    timeout: float = DEFAULT_CHECK_TIMEOUT


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome after the change, and whether it counts against the change."""

    name: str
    status: str               # pass | fail | timeout | error, after the change
    new_failure: bool         # counts against the change (the differential verdict)
    duration_s: float
    output: str               # trimmed, saying what was cut
    files: tuple[str, ...]    # changed files the (new part of the) output names, for routing repairs
    base_status: str | None   # the same check on the base; None if not run

    @property
    def verdict(self) -> str:
        """pass | new-failure | pre-existing (fails, but the same way on the base)."""
        if self.status == "pass":
            return "pass"
        return "new-failure" if self.new_failure else "pre-existing"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "files": list(self.files), "verdict": self.verdict,
                "duration_s": round(self.duration_s, 3)}


@dataclass(frozen=True)
class _Context:
    """What every check of one call needs (keeps signatures short)."""

    workspace: Workspace
    repo: GitRepo
    base: str
    changed: dict[str, bytes | None]


def run_checks(checks: list[Check], workspace: Workspace, repo: GitRepo, base: str,
               changed: dict[str, bytes | None]) -> list[CheckResult]:
    """Run each check on the workspace (which must already hold the change) and judge it against the base."""
    ctx = _Context(workspace, repo, base, changed)
    base_space: list[Workspace] = []  # created on the first cache miss, removed at the end
    try:
        return [syntax_check(check, ctx) if check.command is None else _command_check(check, ctx, base_space)
                for check in checks]
    finally:
        for space in base_space:
            space.remove()


def syntax_check(check: Check, ctx: _Context) -> CheckResult:
    started = time.monotonic()
    lines: list[str] = []
    failing: list[str] = []
    new: list[str] = []
    base_tree = ctx.workspace.base_tree()
    for path, data in sorted(ctx.changed.items()):
        problems = None if data is None else parse_problems(path, data)
        if not problems:
            continue
        failing.append(path)
        entry = base_tree.get(path)
        was_broken = entry is not None and bool(parse_problems(path, ctx.repo.read_blob(entry.blob)))
        if not was_broken:
            new.append(path)
        note = " (it did not parse on the base either)" if was_broken else ""
        lines.extend(f"{problem}{note}" for problem in problems)
    return CheckResult(check.name, "fail" if failing else "pass", bool(new), time.monotonic() - started,
                       trim("\n".join(lines)), tuple(new or failing), None)


def _command_check(check: Check, ctx: _Context, base_space: list[Workspace]) -> CheckResult:
    assert check.command is not None
    present = sorted(p for p, data in ctx.changed.items() if data is not None)
    after = _run(check, present, ctx.workspace)
    if after.status == "pass":
        return CheckResult(check.name, "pass", False, after.duration_s, trim(after.output), (), None)
    on_base = [p for p in present if p in ctx.workspace.base_tree()]
    before = _base_outcome(check, on_base, ctx, base_space)
    new = is_new_failure(after.status, before.status, after.output, before.output)
    # Route repairs by what is new in the output; when nothing specific is, by anything it names.
    fresh = "\n".join(new_lines(after.output, before.output)) if new else ""
    files = files_named(fresh, present) or files_named(after.output, present)
    output = after.output
    if new and before.status == "fail" and stopped_early(after.output):
        output += "\n" + STOPPED_NOTE
    if before.status != "pass" and not new:
        output += f"\n[diffcrew: this check also fails on the base commit ({before.status}); not counted]"
    return CheckResult(check.name, after.status, new, after.duration_s, trim(output), files, before.status)


def _run(check: Check, files: list[str], workspace: Workspace) -> Outcome:
    """Run the command in a workspace; outputs are made relative to it, so base and change compare."""
    assert check.command is not None
    if FILES in check.command and not files:
        return Outcome("pass", 0, "no changed files to check", 0.0)
    command = expand_files(check.command, files)
    outcome = run_command(command, workspace.path, check.timeout, workspace.repo.common_dir, env=_env(workspace),
                          on_start=workspace.track)
    return Outcome(outcome.status, outcome.exit_code, _relative(outcome.output, workspace.path), outcome.duration_s)


def _env(workspace: Workspace) -> dict[str, str]:
    """The check's environment: ours, with PYTHONPATH pointing editable installs at the workspace and
    the common tools' caches kept in it. The first call for a workspace also links its Node workspace
    packages (sandbox.nodelinks)."""
    if workspace not in _python_paths:
        link_packages(workspace.repo.root, workspace.path)
        _python_paths[workspace] = python_path(workspace.repo.root, workspace.repo.common_dir, workspace.path)
    found = _python_paths[workspace]
    return {**os.environ, **tool_caches(workspace.path, os.environ), **({"PYTHONPATH": found} if found else {})}


def tool_caches(workspace: Path, env: Mapping[str, str]) -> dict[str, str]:
    """pytest's, ruff's and mypy's caches in the workspace, where a checkout of the commit keeps them.
    The workspace sits below the user's checkout: a tool that finds its config only there (an
    untracked pytest.ini or ruff.toml) takes the checkout for its project root, and would write its
    cache into the user's working tree."""
    pytest_cache = shlex.quote(str(workspace / ".pytest_cache"))
    return {"PYTEST_ADDOPTS": f"{env.get('PYTEST_ADDOPTS', '')} -o cache_dir={pytest_cache}".strip(),
            "RUFF_CACHE_DIR": str(workspace / ".ruff_cache"), "MYPY_CACHE_DIR": str(workspace / ".mypy_cache")}


def expand_files(command: str, files: list[str]) -> str:
    """`{files}` as shell-quoted words that no command reads as an option: a path not starting
    with a letter, digit, '_' or '.' (say `--basetemp=/x/y`, `+x`, `@args`) is given as `./path`.
    Other paths stay as they are, so tools that match repository paths (pre-commit's `files:`
    regexes) still see them."""
    return command.replace(FILES, shlex.join(path if path[:1].isalnum() or path[:1] in "_." else f"./{path}"
                                             for path in files))


def _base_outcome(check: Check, files: list[str], ctx: _Context, base_space: list[Workspace]) -> Outcome:
    """The check on the base commit: from the cache, or run once in a pristine worktree and cached."""
    assert check.command is not None
    if FILES in check.command and not files:
        return Outcome("pass", 0, "none of the changed files exists on the base", 0.0)
    command = expand_files(check.command, files)
    key = hashlib.sha256(json.dumps([CACHE_VERSION, ctx.base, command, check.timeout]).encode()).hexdigest()
    cache = cache_dir(ctx.repo.common_dir, "checks") / f"{key}.json"
    try:
        data = json.loads(cache.read_text())
        return Outcome(data["status"], data["exit_code"], data["output"], data["duration_s"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    if not base_space:
        base_space.append(Workspace.create(ctx.repo, ctx.base, f"{ctx.workspace.run_id}-base"))
    outcome = _run(check, files, base_space[0])
    if outcome.status in ("pass", "fail", "error"):
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"command": command, "base": ctx.base, **asdict(outcome)}))
        os.replace(tmp, cache)
    return outcome


def _relative(output: str, root: Path) -> str:
    """Strip the workspace's absolute path, so outputs name files as the repository does."""
    for prefix in {str(root), os.path.realpath(root)}:
        output = output.replace(prefix + os.sep, "").replace(prefix, ".")
    return output
