"""Recorded runs: what `diffcrew log`, `show` and `discard` read from the transcripts.

Each run's transcript (`<git-common-dir>/diffcrew/runs/<run id>.jsonl`) starts with the request,
holds one `review` entry per review round, and ends with the run's report; a run killed before
its end record is listed as incomplete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diffcrew.agent.errors import UsageError
from diffcrew.agent.replay import find_transcript
from diffcrew.agent.transcript import read_transcript
from diffcrew.tools.git import GitRepo
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

    @property
    def amended(self) -> bool:
        """Whether a review amended the plan (the crew worked again)."""
        return any(r.get("verdict") == "amended" for r in self.reviews)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "started": self.started, "request": self.request, "status": self.status,
                "branch": self.branch, "cost_usd": self.cost_usd, "amended": self.amended,
                "transcript": str(self.path)}


def read_run(path: Path) -> RecordedRun:
    entries = read_transcript(path)
    start = next((e for e in entries if e.get("kind") == "start"), {})
    end = next((e for e in reversed(entries) if e.get("kind") == "end"), None)
    report = (end or {}).get("report")
    return RecordedRun(run_id=start.get("run_id", path.stem), started=start.get("time", path.stat().st_mtime),
                       request=start.get("request", ""), status=(end or {}).get("status", "incomplete"),
                       branch=(end or {}).get("branch"), cost_usd=(report or {}).get("cost_usd"), path=path,
                       report=report, reviews=tuple(e for e in entries if e.get("kind") == "review"))


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


def discard(repo: GitRepo, run: str) -> str:
    """Delete the branch a run made, only if it still holds that run's commit; returns its name."""
    recorded = read_run(find_transcript(repo, run))
    commit = (recorded.report or {}).get("commit")
    if not recorded.branch or not commit:
        raise UsageError(f"run {recorded.run_id} made no branch; nothing to discard")
    if not repo.branch_exists(recorded.branch):
        raise UsageError(f"branch {recorded.branch} no longer exists")
    tip = repo.resolve(f"refs/heads/{recorded.branch}")
    if tip != commit:
        raise UsageError(f"branch {recorded.branch} has moved since run {recorded.run_id} made it; "
                         "delete it yourself if you mean to (git branch -D)")
    if repo.current_branch() == recorded.branch:
        raise UsageError(f"branch {recorded.branch} is checked out; switch to another branch first")
    repo.delete_branch(recorded.branch, commit)
    return recorded.branch
