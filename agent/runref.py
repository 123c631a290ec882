"""Naming a recorded run: the one place `show`, `discard`, `replay` and `retry` turn RUN into a transcript.

RUN may be
    the full run id                 20261122-153000-a1b2c3
    a prefix of it                  20261122-1530
    the short id in the branch name a1b2c3 (diffcrew/<slug>-a1b2c3)
    `last`                          the newest recorded run
    the branch the run made         diffcrew/type-the-area-function-a1b2c3
A name that fits several runs is refused with one line listing them. `complete_runs` offers the
recorded ids (and `last`) to the shell's completion.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diffcrew.tools.errors import UsageError
from diffcrew.tools.git import GitRepo
from diffcrew.tools.statedir import runs_dir

LAST = "last"
_LISTED = 5  # candidates named in the line refusing an ambiguous name


def short_id(run_id: str) -> str:
    """The short id of a run, the end of its id and of its branch's name: a1b2c3."""
    return run_id.rsplit("-", 1)[-1]


def start_record(path: Path) -> dict[str, Any]:
    """The transcript's first entry (its `start` record), or {} when it cannot be read."""
    try:
        with path.open(encoding="utf-8") as file:
            entry = json.loads(file.readline() or "{}")
    except (OSError, ValueError):
        return {}
    return entry if isinstance(entry, dict) and entry.get("kind") == "start" else {}


def _transcripts(folder: Path) -> list[Path]:
    """Every transcript, newest first: by the time its run started (to the millisecond; run ids
    start with the second only, and two runs may start in the same one)."""
    def started(path: Path) -> tuple[float, str]:
        when = start_record(path).get("time")
        return (when if isinstance(when, (int, float)) else path.stat().st_mtime), path.stem

    return sorted(folder.glob("*.jsonl"), key=started, reverse=True) if folder.is_dir() else []


def find_transcript(repo: GitRepo, run: str) -> Path:
    """The transcript of run `run`: a run id, a prefix of one, its short id, `last`, or its branch."""
    folder = runs_dir(repo.common_dir)
    every = _transcripts(folder)
    if run == LAST and every:
        return every[0]
    matches = _matching(every, run) if run and "\0" not in run else []
    if not matches:
        raise UsageError(f"no recorded run {run!r} in {folder} (name a run by its id, the short id in its "
                         "branch, its branch, or `last`; `diffcrew log` lists them)")
    if len(matches) > 1:
        named = ", ".join(p.stem for p in matches[:_LISTED]) + (", …" if len(matches) > _LISTED else "")
        raise UsageError(f"{run!r} names {len(matches)} runs: {named}; give more of the id")
    return matches[0]


def _matching(every: list[Path], run: str) -> list[Path]:
    exact = [p for p in every if p.stem == run]
    if exact:
        return exact
    by_id = [p for p in every if p.stem.startswith(run) or p.stem.endswith(f"-{run}")]
    if by_id:
        return by_id
    return [p for p in every if start_record(p).get("branch") == run]


def run_names(repo: GitRepo, incomplete: str) -> list[tuple[str, str]]:
    """The run ids (and `last`) that start with `incomplete`, each with its request, newest first."""
    found = [(LAST, "the newest recorded run")] if LAST.startswith(incomplete) else []
    for path in _transcripts(runs_dir(repo.common_dir)):
        if path.stem.startswith(incomplete):
            request = " ".join(str(start_record(path).get("request", "")).split())
            found.append((path.stem, request[:60]))
    return found
