"""Recorded runs: what `diffcrew log`, `show` and `discard` read from the transcripts.

Each run's transcript (`<git-common-dir>/diffcrew/runs/<run id>.jsonl`) starts with the request,
holds one `call` entry per model call, one `review` entry per review round and one `file` entry
per file result, and ends with the run's report; a run killed before its end record is listed as
incomplete, with the calls and cost its transcript holds. `discard` appends a `discard` entry;
`diffcrew fix` a `fix` entry, its outcome (its run is a dry run: the files are written after it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from diffcrew.agent.errors import GitError, UsageError
from diffcrew.agent.pricing import cost_of
from diffcrew.agent.retry import recorded_files
from diffcrew.agent.runref import find_transcript
from diffcrew.agent.transcript import Transcript, entry_of, read_transcript
from diffcrew.agent.types import Usage
from diffcrew.tools.difftext import git_diff
from diffcrew.tools.git import GitRepo, TreeChange
from diffcrew.tools.gitconst import FILE_MODE
from diffcrew.tools.statedir import runs_dir


@dataclass(frozen=True)
class RecordedRun:
    run_id: str
    started: float
    request: str
    status: str
    branch: str | None
    cost_usd: float | None
    path: Path
    report: dict[str, Any] | None
    reviews: tuple[dict[str, Any], ...] = ()  # the transcript's `review` entries, in order
    command: str = "run"  # how it was started: run, fix (a standing request on staged files), retry
    calls: int = 0  # model calls, answered or failed for good
    discarded: float | None = None  # when `diffcrew discard` deleted its branch

    @property
    def amended(self) -> bool:
        """Whether a review amended the plan (the crew worked again)."""
        return any(r.get("verdict") == "amended" for r in self.reviews)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started": self.started, "command": self.command, "request": self.request,
                "status": self.status, "branch": self.branch, "discarded": self.discarded is not None,
                "calls": self.calls, "cost_usd": self.cost_usd, "amended": self.amended, "transcript": str(self.path)}


def _spent(calls: list[dict[str, Any]]) -> float | None:
    """The cost of the recorded calls (a killed run has no report to say it); None: a price is unknown."""
    total = 0.0
    for entry in calls:
        usage = (entry.get("reply") or {}).get("usage") or {}
        known = {k: int(v) for k, v in usage.items() if k in Usage.__dataclass_fields__}
        cost = cost_of(str((entry.get("request") or {}).get("model", "")), Usage(**known))
        if cost is None:
            return None
        total += cost
    return total


def _command(start: dict[str, Any]) -> tuple[str, str]:
    """How the run was started, and the request as the user gave it (`fix`: its standing request)."""
    options = start.get("options") or {}
    if options.get("scope") is not None and options.get("fix_request"):
        return "fix", str(options["fix_request"])
    return ("retry" if start.get("retry_of") else "run"), str(start.get("request", ""))


def read_run(path: Path) -> RecordedRun:
    entries = read_transcript(path)
    start = entry_of(entries, "start")
    end = next((e for e in reversed(entries) if e.get("kind") == "end"), None)
    report = (end or {}).get("report")
    calls = [e for e in entries if e.get("kind") == "call"]
    cost = (report or {}).get("cost_usd") if report else _spent(calls)
    discarded = next((e.get("time") for e in entries if e.get("kind") == "discard"), None)
    fixed = next((e for e in reversed(entries) if e.get("kind") == "fix"), None)  # what a fix did after its run
    command, request = _command(start)
    return RecordedRun(run_id=start.get("run_id", path.stem), started=start.get("time", path.stat().st_mtime),
                       request=request, status=(fixed or end or {}).get("status", "incomplete"),
                       branch=(end or {}).get("branch"), cost_usd=cost, path=path,
                       report=report, reviews=tuple(e for e in entries if e.get("kind") == "review"),
                       command=command, calls=len(calls), discarded=discarded)


def list_runs(repo: GitRepo) -> list[RecordedRun]:
    """Every recorded run, newest first."""
    folder = runs_dir(repo.common_dir)
    runs = [read_run(p) for p in folder.glob("*.jsonl")] if folder.is_dir() else []
    return sorted(runs, key=lambda r: r.started, reverse=True)


def patches(path: Path) -> dict[str, str]:
    """The last patch each worker submitted (as sent to the model: secrets stay redacted)."""
    found: dict[str, str] = {}
    for entry in read_transcript(path):
        if entry.get("kind") == "call" and entry.get("role") == "worker" and "reply" in entry:
            for block in entry["reply"]["content"]:
                if block.get("type") == "tool_use" and block.get("name") == "submit_patch":
                    found[entry["path"]] = str((block.get("input") or {}).get("patch", ""))
    return found


def applied_diff(repo: GitRepo, path: Path) -> str:
    """The diff a run applied: its commit's, or (a run that made none) its files that succeeded."""
    entries = read_transcript(path)
    start = entry_of(entries, "start")
    end = entry_of(entries, "end", last=True)
    base, run_id = str(start.get("base", "")), start.get("run_id", path.stem)
    if end.get("commit"):
        return git_diff(repo, base, str(end["commit"])).text
    good = [e for e in recorded_files(entries).values() if e.get("ok") and (e.get("blob") or e["action"] == "delete")]
    if not good:
        raise UsageError(f"run {run_id} applied no change to any file; there is no diff to show")
    modes = {e.path: e.mode for e in repo.ls_tree(base)}
    try:
        changes = [TreeChange(e["path"], None if e["action"] == "delete" else repo.read_blob(e["blob"]),
                              modes.get(e["path"], FILE_MODE)) for e in good]
    except ValueError:
        raise UsageError(f"run {run_id}'s results are no longer in the repository's object store "
                         "(git gc pruned them); there is no diff to show") from None
    return git_diff(repo, base, repo.build_tree(base, changes), expected={e["path"] for e in good}).text


@dataclass(frozen=True)
class Discarded:
    """What `discard` deleted, and where the branch was pushed and is left."""

    run_id: str
    branch: str
    local: bool  # the local branch was deleted now (False: only a remote one was)
    deleted: tuple[str, ...]  # the remotes the branch was deleted from
    left: tuple[str, ...]  # the remotes that still hold it


def discard(repo: GitRepo, run: str, delete_on: Callable[[tuple[str, ...], str], bool]) -> Discarded:
    """Delete the branch a run made, only if it still holds that run's commit; where it was pushed,
    delete it there too when `delete_on(remotes, branch)` says so (the user's consent)."""
    path = find_transcript(repo, run)
    recorded = read_run(path)
    commit = (recorded.report or {}).get("commit")
    if not recorded.branch or not commit:
        raise UsageError(f"run {recorded.run_id} made no branch; nothing to discard")
    branch, local = recorded.branch, repo.branch_exists(recorded.branch)
    remotes = tuple(repo.pushed_to(branch))
    if not local:
        how = time.strftime("discarded %Y-%m-%d %H:%M", time.localtime(recorded.discarded)) \
            if recorded.discarded is not None else "deleted outside diffcrew"
        gone = f"branch {branch} of run {recorded.run_id} is already gone ({how})"
        if not remotes:
            raise UsageError(f"{gone}; nothing to discard")
        if not delete_on(remotes, branch):
            raise UsageError(f"{gone} here, but is still on {', '.join(remotes)}: "
                             f"`diffcrew discard {recorded.run_id} --remote` deletes it there")
    elif repo.resolve(f"refs/heads/{branch}") != commit:
        raise UsageError(f"branch {branch} has moved since run {recorded.run_id} made it; "
                         "delete it yourself if you mean to (git branch -D)")
    elif (worktree := repo.worktree_of(branch)) is not None:
        raise UsageError(f"branch {branch} is checked out in the worktree at {worktree}; "
                         "switch it to another branch first")
    if local:
        repo.delete_branch(branch, commit)
    deleted: list[str] = []
    if remotes and (not local or delete_on(remotes, branch)):
        for remote in remotes:
            try:
                repo.delete_remote_branch(remote, branch, commit)
            except GitError as exc:
                raise UsageError(f"branch {branch} on {remote} was not deleted (it may have moved since "
                                 f"run {recorded.run_id} pushed it): {exc.summary}") from None
            deleted.append(remote)
    done = Discarded(recorded.run_id, branch, local, tuple(deleted), tuple(r for r in remotes if r not in deleted))
    record = Transcript(path)
    record.append({"kind": "discard", "branch": branch, "local": local, "remotes_deleted": deleted,
                   "remotes_left": list(done.left)})
    record.close()
    return done
