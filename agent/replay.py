"""Replays: a recorded run's transcript becomes a script for the scripted model.

Every call in a transcript holds the request as sent and the answer as received. Keyed by role,
file and turn (the number of assistant turns in the request), the answers form a diffcrew script
(`diffcrew.agent.script`), so the whole pipeline can run again with no key and no network, in
any order the workers happen to run, and produce the same tree.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

from diffcrew.agent.config import ALIASES, RunOptions
from diffcrew.agent.errors import UsageError
from diffcrew.agent.script import script_key, turn_index
from diffcrew.agent.transcript import read_transcript
from diffcrew.tools.git import GitRepo
from diffcrew.tools.statedir import runs_dir

_USAGE_NAMES = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
                "cache_read_tokens": "cache_read_input_tokens", "cache_write_tokens": "cache_creation_input_tokens"}


def find_transcript(repo: GitRepo, run: str) -> Path:
    """The transcript of run `run` (a run id or an unambiguous prefix of one)."""
    runs = runs_dir(repo.common_dir)
    matches = sorted(runs.glob(f"{run}*.jsonl")) if run and "/" not in run else []
    if not matches:
        raise UsageError(f"no recorded run {run!r} in {runs} (run ids are printed by `diffcrew run`)")
    if len(matches) > 1:
        raise UsageError(f"{run!r} names {len(matches)} runs; give more of the id")
    return matches[0]


def script_from_transcript(entries: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The answers of every successful call, as script turns keyed by role, file and turn."""
    slots: dict[str, dict[int, dict[str, Any]]] = {}
    for entry in entries:
        if entry.get("kind") != "call" or "reply" not in entry:
            continue  # a failed attempt: its retry, if any, is recorded after it
        reply = entry["reply"]
        usage = {_USAGE_NAMES[k]: v for k, v in reply.get("usage", {}).items() if k in _USAGE_NAMES}
        key = script_key(entry["role"], entry.get("path"))
        slots.setdefault(key, {})[turn_index(entry["request"])] = {
            "content": reply["content"], "stop_reason": reply["stop_reason"], "usage": usage}
    return {key: [turns[i] for i in sorted(turns)] for key, turns in slots.items()}


def replay_options(entries: list[dict[str, Any]], repo: Path, branch: str | None) -> RunOptions:
    """The recorded run's options, on its recorded base commit, onto a new branch, never pushed."""
    start = next((e for e in entries if e.get("kind") == "start"), None)
    if start is None:
        raise UsageError("the transcript has no start record; it cannot be replayed")
    known = {f.name for f in fields(RunOptions)}
    options = start.get("options") or {}
    options = {ALIASES.get(k, k): v for k, v in options.items()}  # recorded under the old names
    recorded: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items() if k in known}
    recorded.setdefault("review_rounds", 0)  # recorded before the review existed: it had none
    recorded.update(request=start["request"], repo=repo, base=start["base"], branch=branch, dry_run=False,
                    push=None)
    return RunOptions(**recorded)


def load_replay(repo: GitRepo, run: str, branch: str | None) -> tuple[RunOptions, dict[str, list[dict[str, Any]]]]:
    entries = read_transcript(find_transcript(repo, run))
    return replay_options(entries, repo.root, branch), script_from_transcript(entries)
